package broker

// Leadership changes are logged one line per partition (docs/operations.md, "Logs"), with
// the leader epoch, so that an operator can follow a partition from broker to broker:
// "partition taken over" when this broker starts leading it, "partition resigned" when it
// stops (moved, deleted, or the broker stopped serving).

import (
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/topicmetrics"
)

// takenPart is a partition a takeover is about to publish.
type takenPart struct {
	topic string
	p     int32
	log   *partition.Log
}

// pending returns the partitions the takeover built, before commit publishes them (commit
// merges them with partitions already served, which must not be logged again).
func (tk *takeover) pending() []takenPart {
	var out []takenPart
	for _, t := range tk.added {
		for p, ps := range t.parts {
			if ps != nil {
				out = append(out, takenPart{t.meta.Name, int32(p), ps.log})
			}
		}
	}
	return out
}

// logTaken logs each partition of a committed takeover that serves (commit resigns, and
// does not publish, those moved away meanwhile: neither taken nor resigned is logged), and
// makes its topic's traffic series exported from now on, at zero, so that the first
// records a scrape sees are counted by rate() and increase().
func (b *Broker) logTaken(parts []takenPart) {
	for _, tp := range parts {
		if !tp.log.Leader() {
			continue
		}
		topicmetrics.For(tp.topic)
		logStart, hw, epoch := tp.log.Offsets()
		b.log.Info("partition taken over", "topic", tp.topic, "partition", tp.p, "leader_epoch", epoch, "log_start", logStart, "high_watermark", hw, "node_id", b.cfg.NodeID)
	}
}

// resign stops serving l and logs it, with why, unless it was resigned already (a
// partition stays in its topic's parts until the assignment drops it, and each fence
// refresh meanwhile resigns it again).
func (b *Broker) resign(l *partition.Log, why string) {
	if resignQuietly(l) {
		b.logResigned(l, why)
	}
}

// resignQuietly stops serving l and reports whether it was leading until then, for a
// caller that logs the resignation once it knows why.
func resignQuietly(l *partition.Log) bool {
	was := l.Leader()
	l.Resign()
	return was
}

// logResigned logs that l stopped being led by this broker, and why.
func (b *Broker) logResigned(l *partition.Log, why string) {
	logStart, hw, epoch := l.Offsets()
	b.log.Info("partition resigned", "topic", l.Topic(), "partition", l.Partition(), "leader_epoch", epoch, "log_start", logStart, "high_watermark", hw, "node_id", b.cfg.NodeID, "reason", why)
}
