package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// TestPprofOnlyWhenAsked: /debug/pprof/ is served on the metrics listener with --pprof and
// answers 404 without it, while /metrics is served either way.
func TestPprofOnlyWhenAsked(t *testing.T) {
	ready := func(context.Context) (bool, string) { return true, "" }
	for _, on := range []bool{false, true} {
		srv, addr, err := startHTTP("127.0.0.1:0", on, ready, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) int {
			resp, err := http.Get("http://" + addr.String() + path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if got := get("/debug/pprof/heap?debug=1"); got != want {
			t.Errorf("--pprof=%v: /debug/pprof/heap answered %d, want %d", on, got, want)
		}
		if got := get("/metrics"); got != http.StatusOK {
			t.Errorf("--pprof=%v: /metrics answered %d", on, got)
		}
		srv.Close()
	}
}
