package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profileWindow takes the broker's CPU profile and its allocation profile over the measured
// window (from its /debug/pprof/, served by `kafscale ... --pprof` on the metrics listener)
// and writes them to dir as <target>-cpu.pprof and <target>-allocs.pprof. The allocation
// profile is pprof's delta over the window (allocs?seconds=N), so start-up and warm-up
// allocations are not in it; read it with -sample_index=alloc_space or alloc_objects.
// It returns a wait for both profiles; pprofBase "" takes none.
func profileWindow(ctx context.Context, dir, target, pprofBase string, clk *clock) func() error {
	if dir == "" || pprofBase == "" {
		return func() error { return nil }
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() error { return fmt.Errorf("cannot create the profile directory: %w", err) }
	}
	name := strings.NewReplacer("/", "-", ":", "-").Replace(target)
	// pprof takes whole seconds, and 0 would mean its default of 30 s.
	secs := max(1, int(clk.winEnd.Sub(clk.winStart).Round(time.Second)/time.Second))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, kind := range []string{"profile", "allocs"} {
		file := filepath.Join(dir, name+"-cpu.pprof")
		if kind == "allocs" {
			file = filepath.Join(dir, name+"-allocs.pprof")
		}
		wg.Go(func() {
			time.Sleep(time.Until(clk.winStart))
			errs[i] = fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", pprofBase, kind, secs), file)
		})
	}
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

// fetchProfile writes the profile at url to file.
func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot take the profile %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("cannot take the profile %s: %s: %s (is the broker started with --pprof?)", url, resp.Status, strings.TrimSpace(string(body)))
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("cannot write the profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("cannot write the profile %s: %w", file, err)
	}
	return f.Close()
}
