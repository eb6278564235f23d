//go:build !kafscale_nos3

package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/objstore"
)

// runningHost is a Host whose incarnation still serves; GC's sweep asks nothing else.
type runningHost struct{ Host }

func (runningHost) Stopped() bool { return false }

// TestGCDeletesInBatchesAndRetriesAFailedKey runs GC's sweep on MinIO through the fault
// proxy: every due object goes in one DeleteObjects request, a referenced or too-young
// object is never deleted, and a key the answer reports failed stays known with its
// first-seen time, so the next pass deletes it without waiting out the grace again.
func TestGCDeletesInBatchesAndRetriesAFailedKey(t *testing.T) {
	m := testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Bucket: m.Bucket, Endpoint: proxy.URL(), Region: m.Region, PathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const prefix, grace = "gc/", time.Hour
	put := func(key string) {
		t.Helper()
		if err := st.Put(ctx, key, [][]byte{[]byte(key)}, int64(len(key))); err != nil {
			t.Fatal(err)
		}
	}
	// 1,500 old unreferenced objects take two requests; "gc/bad" is one of them.
	longAgo := time.Now().Add(-2 * grace)
	seen := make(map[string]time.Time)
	for i := range 1500 {
		key := fmt.Sprintf("%sold%04d", prefix, i)
		if i == 700 {
			key = prefix + "bad"
		}
		seen[key] = longAgo
	}
	// Uploaded 16 at a time: one after another they took most of the test's 8 s.
	upload := slices.Collect(maps.Keys(seen))
	var wg sync.WaitGroup
	errs := make(chan error, len(upload))
	for part := range slices.Chunk(upload, (len(upload)+15)/16) {
		wg.Go(func() {
			for _, k := range part {
				if err := st.Put(ctx, k, [][]byte{[]byte(k)}, int64(len(k))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	put(prefix + "ref")
	seen[prefix+"ref"] = longAgo
	put(prefix + "young") // unreferenced, but first seen by this pass
	j := &Jobs{cfg: Config{GCGrace: grace}, store: st, host: runningHost{}, gcSeen: map[string]map[string]time.Time{prefix: seen}}
	referenced := map[string]bool{prefix + "ref": true}

	// The store's clock says the objects are old too (the second half of the grace rule).
	proxy.Set(s3fault.Rule{ModifiedShift: -2 * grace, FailDeleteKeys: "bad"})
	posts := proxy.Stats().Requests["POST"]
	err = j.deleteUnreferenced(ctx, prefix, referenced, nil)
	if err == nil || !strings.Contains(err.Error(), prefix+"bad") {
		t.Fatalf("first pass error = %v; want gc/bad reported", err)
	}
	if n := proxy.Stats().Requests["POST"] - posts; n != 2 {
		t.Errorf("first pass sent %d DeleteObjects requests; want 2 for 1,500 keys", n)
	}
	left := j.gcSeen[prefix]
	if got, ok := left[prefix+"bad"]; !ok || !got.Equal(longAgo) {
		t.Errorf("gc/bad first seen %v, %v after its delete failed; want kept at %v", got, ok, longAgo)
	}
	if _, ok := left[prefix+"young"]; !ok || len(left) != 2 {
		t.Errorf("GC remembers %d objects; want gc/bad and gc/young", len(left))
	}
	infos, err := st.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range infos {
		keys = append(keys, o.Key)
	}
	// MinIO itself deleted gc/bad (the proxy only rewrote the answer).
	if want := []string{prefix + "ref", prefix + "young"}; strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("bucket holds %q after the first pass; want %q", keys, want)
	}

	// As if gc/bad had survived: the next pass deletes it at once, the young one still waits.
	put(prefix + "bad")
	proxy.Set(s3fault.Rule{ModifiedShift: -2 * grace})
	if err := j.deleteUnreferenced(ctx, prefix, referenced, nil); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	if _, err := st.GetRange(ctx, prefix+"bad", 0, 1); err == nil {
		t.Error("gc/bad still stored after the second pass; want it deleted without a new grace")
	}
	for _, k := range []string{prefix + "ref", prefix + "young"} {
		if _, err := st.GetRange(ctx, k, 0, 1); err != nil {
			t.Errorf("GetRange(%s) after the second pass: %v; want it kept", k, err)
		}
	}
}
