package meta

import (
	"context"
	"errors"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

var compactions = metrics.NewCounter(`kafscale_etcd_compactions_total`)

// RunCompaction compacts etcd's key history until ctx ends, the way etcd's periodic
// auto-compaction does, for external clusters run without it: every retention/10 it notes
// the current revision, and compacts to the newest noted revision that is at least
// retention old. KafScale's keys churn (objects/ entries are written per flush and deleted
// by GC), so without compaction a day of load fills etcd's quota. Several brokers compacting
// the same cluster is harmless: an already compacted revision is not an error.
func (s *Store) RunCompaction(ctx context.Context, retention time.Duration) {
	type sample struct {
		at  time.Time
		rev int64
	}
	every := max(retention/10, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	var samples []sample
	var compacted int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp, err := s.kv.Get(ctx, s.keys.Root()+"cluster")
		if err != nil {
			s.log.Warn("cannot read the etcd revision for compaction", "err", err)
			continue
		}
		now := time.Now()
		samples = append(samples, sample{now, resp.Header.Revision})
		target := int64(0)
		keep := 0
		for i, sm := range samples {
			if now.Sub(sm.at) >= retention {
				target, keep = sm.rev, i
			}
		}
		samples = samples[keep:]
		if target <= compacted {
			continue
		}
		_, err = s.cli.Compact(ctx, target)
		switch {
		case err == nil, errors.Is(err, rpctypes.ErrCompacted):
			compacted = target
			compactions.Inc()
			s.log.Debug("compacted etcd history", "revision", target)
		default:
			s.log.Warn("cannot compact etcd history", "revision", target, "err", err)
		}
	}
}
