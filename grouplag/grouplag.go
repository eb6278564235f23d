// Package grouplag exports consumer-group lag, what kafka_exporter and Burrow users watch:
// per group and partition, the partition's high watermark minus the group's committed
// offset, computed every Config.Interval by the broker coordinating the group:
//
//	kafscale_consumer_group_lag{group,topic,partition}   records not yet committed (>= 0)
//
// Cardinality is bounded by Config.MaxPartitions (group x partition pairs). Groups are
// taken in name order, each whole or not at all (a group's sum is never partial); a group
// that does not fit is left out and counted in
// kafscale_consumer_group_lag_dropped_partitions, and later, smaller groups may still
// fit. Partitions whose high watermark is not known (their topic was deleted, their
// leader did not answer) are left out and counted in
// kafscale_consumer_group_lag_unknown_partitions. Series of groups and partitions gone
// since the last pass are removed.
package grouplag

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Defaults of Config.
const (
	DefaultInterval      = 30 * time.Second
	DefaultMaxPartitions = 10000
)

// Config holds the lag export's settings.
type Config struct {
	// Interval is --lag-interval: how often lag is computed (one etcd read per group
	// coordinated here, and ListOffsets to the leaders of partitions led elsewhere).
	Interval time.Duration
	// MaxPartitions is --lag-max-partitions: the most group x partition series exported;
	// 0 turns the lag export off.
	MaxPartitions int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Interval: DefaultInterval, MaxPartitions: DefaultMaxPartitions}
}

// Validate reports a bad setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.Interval < time.Second:
		return fmt.Errorf("--lag-interval must be at least 1s (set to %s)", c.Interval)
	case c.MaxPartitions < 0:
		return fmt.Errorf("--lag-max-partitions must be >=0 (set to %d)", c.MaxPartitions)
	}
	return nil
}

var (
	exportedPartitions = metrics.NewGauge(`kafscale_consumer_group_lag_partitions`, nil)
	droppedPartitions  = metrics.NewGauge(`kafscale_consumer_group_lag_dropped_partitions`, nil)
	unknownPartitions  = metrics.NewGauge(`kafscale_consumer_group_lag_unknown_partitions`, nil)
	updateErrors       = metrics.NewCounter(`kafscale_consumer_group_lag_update_errors_total`)
	lastUpdate         = metrics.NewGauge(`kafscale_consumer_group_lag_updated_timestamp_seconds`, nil)
)

// Position is a group's committed offset in one partition.
type Position struct {
	Group     string
	TopicID   [16]byte
	Partition int32
	Committed int64
}

// PartitionID names a partition by topic id.
type PartitionID struct {
	TopicID   [16]byte
	Partition int32
}

// End is what the exporter needs of a partition: its topic's name and high watermark.
type End struct {
	Topic         string
	HighWatermark int64
}

// Source gives the exporter committed offsets and partition ends.
type Source interface {
	// Committed returns the committed offsets of the groups this broker coordinates.
	Committed(ctx context.Context) ([]Position, error)
	// Ends returns the ends of parts; a partition missing from the answer is unknown.
	Ends(ctx context.Context, parts []PartitionID) (map[PartitionID]End, error)
}

// Exporter computes and exports lag. Its series live in its own metrics.Set, registered
// while it runs.
type Exporter struct {
	cfg Config
	src Source
	log *slog.Logger
	set *metrics.Set

	// mu serializes passes (the goroutine's and tests' Update calls) and guards exported.
	mu       sync.Mutex
	exported map[string]bool // series names set by the last pass
	warned   bool            // a pass dropped groups, and that was logged
}

// New returns an exporter; Run starts it.
func New(cfg Config, src Source, log *slog.Logger) *Exporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Exporter{cfg: cfg, src: src, log: log, set: metrics.NewSet(), exported: map[string]bool{}}
}

// Run exports lag every Config.Interval until ctx ends, then removes its series.
func (e *Exporter) Run(ctx context.Context) {
	if e.cfg.MaxPartitions == 0 {
		return
	}
	metrics.RegisterSet(e.set)
	defer metrics.UnregisterSet(e.set, true)
	tick := time.NewTicker(e.cfg.Interval)
	defer tick.Stop()
	for {
		if err := e.Update(ctx); err != nil && ctx.Err() == nil {
			updateErrors.Inc()
			e.log.Warn("cannot compute consumer group lag", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// labelEscaper escapes a label value as Prometheus' text format does (a group id is any
// string; Go's %q would write escapes the format does not know, such as \t).
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Update computes lag once and replaces the exported series.
func (e *Exporter) Update(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	pos, err := e.src.Committed(ctx)
	if err != nil {
		return fmt.Errorf("cannot read committed offsets: %w", err)
	}
	slices.SortFunc(pos, func(a, b Position) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), slices.Compare(a.TopicID[:], b.TopicID[:]), cmp.Compare(a.Partition, b.Partition))
	})
	// Whole groups, in name order, while they fit.
	var keep []Position
	dropped, dropGroups := 0, 0
	for i := 0; i < len(pos); {
		j := i + 1
		for j < len(pos) && pos[j].Group == pos[i].Group {
			j++
		}
		if len(keep)+(j-i) <= e.cfg.MaxPartitions {
			keep = append(keep, pos[i:j]...)
		} else {
			dropped += j - i
			dropGroups++
		}
		i = j
	}
	seen := map[PartitionID]bool{}
	var parts []PartitionID
	for _, p := range keep {
		id := PartitionID{p.TopicID, p.Partition}
		if !seen[id] {
			seen[id] = true
			parts = append(parts, id)
		}
	}
	ends, err := e.src.Ends(ctx, parts)
	if err != nil {
		return fmt.Errorf("cannot read high watermarks: %w", err)
	}
	now := map[string]bool{}
	unknown := 0
	for _, p := range keep {
		end, ok := ends[PartitionID{p.TopicID, p.Partition}]
		if !ok {
			unknown++
			continue
		}
		name := `kafscale_consumer_group_lag{group="` + labelEscaper.Replace(p.Group) + `",topic="` + labelEscaper.Replace(end.Topic) + `",partition="` + strconv.Itoa(int(p.Partition)) + `"}`
		e.set.GetOrCreateGauge(name, nil).Set(float64(max(end.HighWatermark-p.Committed, 0)))
		now[name] = true
	}
	for name := range e.exported {
		if !now[name] {
			e.set.UnregisterMetric(name)
		}
	}
	e.exported = now
	exportedPartitions.Set(float64(len(now)))
	droppedPartitions.Set(float64(dropped))
	unknownPartitions.Set(float64(unknown))
	lastUpdate.Set(float64(time.Now().UnixNano()) / 1e9)
	if dropped > 0 && !e.warned {
		e.log.Warn("consumer group lag not exported for some groups: more group partitions than --lag-max-partitions", "groups_left_out", dropGroups, "partitions_left_out", dropped, "lag_max_partitions", e.cfg.MaxPartitions)
	}
	e.warned = dropped > 0
	return nil
}
