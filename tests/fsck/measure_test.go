//go:build fsckmeasure

package fsck

import (
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestMeasureFsckAndRebuild times a check, a check with --verify-data and a rebuild of the
// bucket 40 s of load on 100 partitions leave (1 KB records, idempotent producers,
// --merge-age 5s), then checks a broker on the rebuilt etcd serves every acknowledged
// record. Not part of CI (build tag fsckmeasure); docs/fsck.md quotes it:
//
//	go test -tags fsckmeasure -run TestMeasureFsckAndRebuild -v ./tests/fsck
func TestMeasureFsckAndRebuild(t *testing.T) {
	s := startStores(t)
	b := testbroker.StartPlainBroker(t, s.etcd.Endpoints(), s.s3, "--flush-interval", "20ms", "--merge-interval", "1s", "--merge-age", "5s", "--bucket-metadata-interval", "1s")
	kafkatest.CreateTopic(t, b.Addr, "load", 100)
	l := kafkatest.StartLoader(t, []string{b.Addr}, "load", 100, kafkatest.LoadOpts{ValueSize: 1000, Idempotent: true})
	time.Sleep(40 * time.Second) // the load's duration
	l.Finish(t)
	start := time.Now()
	r := runFsck(t, s, s.etcd.Endpoints(), "--json")
	t.Logf("check: %s, exit %d, %d flush, %d segment objects, %d acked records, problems %v", time.Since(start), r.code, r.report.FlushObjects, r.report.SegmentObjects, l.Ledger.Len(), r.report.Problems)
	start = time.Now()
	r = runFsck(t, s, s.etcd.Endpoints(), "--json", "--verify-data")
	t.Logf("check --verify-data: %s, exit %d", time.Since(start), r.code)
	b.Kill()
	fresh := testinfra.StartEtcd(t)
	start = time.Now()
	r = runFsck(t, s, fresh.Endpoints(), "--rebuild", "--json")
	t.Logf("rebuild: %s, exit %d, problems %v", time.Since(start), r.code, r.report.Problems)
	b2 := testbroker.StartPlainBroker(t, fresh.Endpoints(), s.s3)
	if err := l.Ledger.Verify(kafkatest.ReadAll(t, b2.Addr, "load", 100)); err != nil {
		t.Fatal(err)
	}
}
