package lifecycle

// Retention (issue 13, acceptance 1): every --retention-check-interval (Kafka's
// log.retention.check.interval.ms) the broker moves the log start of each partition it
// leads whose topic's cleanup.policy includes delete past the extents that retention.ms or
// retention.bytes no longer keeps (partition.Log.RetentionStart), writes those partitions'
// checkpoints, and leaves the deleting to the mechanism DeleteRecords uses: the merging
// goroutine deletes the segments below the durable log start, GC their objects
// (docs/object-lifecycle.md, "Retention").

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta/metapb"
)

var retentionMoves = metrics.NewCounter(`kafscale_retention_log_start_moves_total`)

// retentionLimits returns a topic's cleanup.policy deletes, retention.ms and
// retention.bytes (-1: no limit).
func (j *Jobs) retentionLimits(t *metapb.Topic) (deletes bool, ms, bytes int64) {
	config := func(name string) string {
		v, _ := j.host.TopicConfig(t, name)
		return v
	}
	deletes = strings.Contains(config("cleanup.policy"), "delete")
	ms, err := strconv.ParseInt(config("retention.ms"), 10, 64)
	if err != nil {
		ms = -1 // validated at creation; never expected
	}
	bytes, err = strconv.ParseInt(config("retention.bytes"), 10, 64)
	if err != nil {
		bytes = -1
	}
	return deletes, ms, bytes
}

// retentionOnce applies retention to every partition this broker leads.
func (j *Jobs) retentionOnce() {
	now := time.Now().UnixMilli()
	moved := 0
	for _, lp := range j.host.Partitions() {
		deletes, ms, bytes := j.retentionLimits(lp.Topic)
		if !deletes || (ms < 0 && bytes < 0) {
			continue
		}
		l := lp.Log
		start, _, _ := l.Offsets()
		target := l.RetentionStart(now, ms, bytes)
		if target <= start {
			continue
		}
		if _, err := l.DeleteBefore(target); err != nil {
			continue // no longer the leader
		}
		moved++
	}
	if moved == 0 {
		return
	}
	retentionMoves.Add(moved)
	ctx, cancel := context.WithTimeout(j.ctx, 30*time.Second)
	defer cancel()
	if err := j.WriteCheckpoints(ctx, false); err != nil && j.ctx.Err() == nil {
		j.log.Warn("cannot write the checkpoints of partitions whose log start retention moved", "partitions", moved, "err", err)
		return
	}
	j.log.Info("retention moved the log start of partitions", "partitions", moved)
}
