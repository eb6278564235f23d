package broker

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
)

var loadReportErrors = metrics.NewCounter(`kafscale_broker_load_report_errors_total`)

// loadReporter measures the recent bytes in of the partitions this broker leads and
// writes them to load/<id> every LoadReportInterval, for the controller's balancing
// (docs/cluster.md, "Balancing"). One etcd write per interval while any partition
// receives data, whatever the number of partitions; none while all are idle (after one
// empty report). Owned by the goroutine that b.every runs report on: never concurrent.
type loadReporter struct {
	b    *Broker
	last map[*partition.Log]loadMark
	// wroteEmpty: the last report written (or the absence of one at start) said nothing
	// received data; another empty one would change nothing.
	wroteEmpty bool
}

// loadMark is a log's bytes-in counter when last read.
type loadMark struct {
	bytes int64
	at    time.Time
}

func newLoadReporter(b *Broker) *loadReporter {
	return &loadReporter{b: b, last: make(map[*partition.Log]loadMark), wroteEmpty: true}
}

// report reads every led partition's bytes in since the last report (or since its
// takeover, for one taken over since) and writes their rates.
func (r *loadReporter) report() {
	now := time.Now()
	seen := make(map[*partition.Log]loadMark, len(r.last))
	out := &metapb.BrokerLoad{WindowMs: r.b.cfg.LoadReportInterval.Milliseconds()}
	for _, lp := range r.b.ledPartitions() {
		l := lp.ps.log
		if !l.Leader() {
			continue
		}
		n, opened := l.BytesIn()
		prev, ok := r.last[l]
		if !ok {
			prev = loadMark{at: opened}
		}
		seen[l] = loadMark{bytes: n, at: now}
		secs := now.Sub(prev.at).Seconds()
		if n <= prev.bytes || secs <= 0 {
			continue
		}
		out.Partitions = append(out.Partitions, &metapb.PartitionLoad{TopicId: lp.t.meta.Id,
			Partition: lp.p, BytesInPerSec: int64(float64(n-prev.bytes) / secs)})
	}
	r.last = seen
	if len(out.Partitions) == 0 && r.wroteEmpty {
		return
	}
	ctx, cancel := context.WithTimeout(r.b.ctx, 10*time.Second)
	defer cancel()
	if err := r.b.meta.PutLoad(ctx, r.b.cfg.NodeID, r.b.reg.LeaseID, out); err != nil {
		if r.b.ctx.Err() == nil {
			loadReportErrors.Inc()
			r.b.log.Warn("cannot report partition load", "err", err)
		}
		r.wroteEmpty = false // write again next time, empty or not
		return
	}
	r.wroteEmpty = len(out.Partitions) == 0
}
