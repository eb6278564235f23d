package meta

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func startTestEmbedded(t *testing.T, cfg EmbeddedConfig) (*Embedded, *clientv3.Client) {
	t.Helper()
	cfg.ClientURL = "127.0.0.1:0"
	cfg.UnsafeNoFsync = true
	e, err := StartEmbedded(testCtx(t), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClient(e.Endpoints, 10*time.Second, nil)
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, cli
}

func TestEmbeddedRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	e, cli := startTestEmbedded(t, EmbeddedConfig{Dir: dir})
	if _, err := cli.Put(testCtx(t), "k", "v"); err != nil {
		t.Fatal(err)
	}
	_ = cli.Close()
	e.Close()

	e, cli = startTestEmbedded(t, EmbeddedConfig{Dir: dir}) // new free ports
	t.Cleanup(e.Close)
	t.Cleanup(func() { _ = cli.Close() })
	resp, err := cli.Get(testCtx(t), "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("after restart: %v, %v", resp, err)
	}
}

func TestAlarmsReportNoSpace(t *testing.T) {
	e, cli := startTestEmbedded(t, EmbeddedConfig{Dir: t.TempDir(), QuotaBackendBytes: 1 << 20})
	t.Cleanup(e.Close)
	t.Cleanup(func() { _ = cli.Close() })
	s := New(cli, DefaultConfig(), nil)
	ctx := testCtx(t)
	if alarms, err := s.Alarms(ctx); err != nil || len(alarms) != 0 {
		t.Fatalf("alarms before filling = %v, %v", alarms, err)
	}
	big := strings.Repeat("x", 512<<10)
	var err error
	// etcd checks the quota against the database file, which grows only when its batched
	// writes are committed (every 100 ms): a fast loop may write several MiB first, so
	// keep writing, a little slower, until the quota bites or a deadline passes.
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for ; err == nil && time.Now().Before(deadline); n++ {
		if _, err = cli.Put(ctx, "big", big); err == nil && n >= 10 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err == nil {
		t.Fatalf("etcd accepted %d puts of 512 KiB over a 1 MiB quota in 10 s", n)
	}
	alarms, err := s.Alarms(ctx)
	if err != nil || !slices.Equal(alarms, []string{"NOSPACE"}) {
		t.Fatalf("alarms = %v, %v; want [NOSPACE]", alarms, err)
	}
}

func TestNewClientNamesUnreachableEndpoints(t *testing.T) {
	start := time.Now()
	_, err := NewClient([]string{"127.0.0.1:1"}, 500*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v, want an error naming the endpoint", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s to fail", d)
	}
}

func TestStartEmbeddedRejectsBadConfig(t *testing.T) {
	for _, cfg := range []EmbeddedConfig{
		{}, // no dir
		{Dir: t.TempDir(), ClientURL: "https://127.0.0.1:0"}, // unsupported scheme
		{Dir: t.TempDir(), PeerURL: "127.0.0.1"},             // no port
		{Dir: t.TempDir(), LogLevel: "loud"},
	} {
		if _, err := StartEmbedded(context.Background(), cfg, nil); err == nil {
			t.Errorf("%+v: started", cfg)
		}
	}
}
