package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// ResetKind says how ResetOffsets picks each partition's new offset, as
// kafka-consumer-groups --reset-offsets does.
type ResetKind int

// The reset targets (the --to-* and --shift-by flags).
const (
	ToEarliest ResetKind = iota + 1 // the log start
	ToLatest                        // the log end
	ToCurrent                       // the committed offset (the log end where none)
	ToOffset                        // ResetTarget.Offset, within the log's bounds
	ShiftBy                         // committed + ResetTarget.Shift, within the log's bounds
	ToDatetime                      // the first offset at or after ResetTarget.Time (else the log end)
)

// ResetTarget is where ResetOffsets moves offsets.
type ResetTarget struct {
	Kind   ResetKind
	Offset int64     // ToOffset
	Shift  int64     // ShiftBy; negative moves back
	Time   time.Time // ToDatetime
}

// ResetScope names the partitions to reset: Topics maps a topic to its partitions (nil
// or empty: all of them); AllTopics adds every topic the group has committed offsets for.
type ResetScope struct {
	Topics    map[string][]int32
	AllTopics bool
}

// OffsetChange is one partition's planned (or, executed, committed) reset.
type OffsetChange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Old       int64  `json:"old"` // -1: nothing committed before
	New       int64  `json:"new"`
	Err       string `json:"error,omitempty"` // why the commit of this partition failed
}

// ErrGroupActive is returned when a reset is asked for a group that has members: their
// next commit would overwrite the reset, so Kafka's tool refuses, and so does this.
var ErrGroupActive = errors.New("offsets can be reset only while the group has no members")

// ResetOffsets computes the new committed offset of every partition in scope and, if
// execute is set, commits them for group. Without execute it is a dry run that changes
// nothing. The group must be inactive (Empty, or not exist yet).
func (c *Client) ResetOffsets(ctx context.Context, group string, scope ResetScope, target ResetTarget, execute bool) ([]OffsetChange, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	d, err := c.describeMembers(ctx, group)
	switch {
	case errors.Is(err, ErrGroupNotFound):
	case err != nil:
		return nil, err
	case d.State != "Empty" && d.State != "Dead":
		return nil, fmt.Errorf("%w: group %s is %s with %d members; stop its consumers first", ErrGroupActive, group, d.State, len(d.Members))
	}
	committed, err := c.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch the committed offsets of group %s: %w", group, err)
	}
	if err := committed.Error(); err != nil {
		return nil, fmt.Errorf("cannot fetch the committed offsets of group %s: %w", group, err)
	}
	parts, err := c.resolveScope(ctx, scope, committed)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("no partitions to reset: group %s has no committed offsets and no --topic was given", group)
	}
	topics := parts.Topics()
	starts, ends, err := c.logBounds(ctx, topics)
	if err != nil {
		return nil, err
	}
	var byTime kadm.ListedOffsets
	if target.Kind == ToDatetime {
		byTime, err = c.adm.ListOffsetsAfterMilli(ctx, target.Time.UnixMilli(), topics...)
		if err != nil && !isShardError(err) {
			return nil, fmt.Errorf("cannot list offsets at %s: %w", target.Time.Format(time.RFC3339), err)
		}
	}

	var changes []OffsetChange
	var firstErr error
	parts.Each(func(topic string, p int32) {
		if firstErr != nil {
			return
		}
		old := int64(-1)
		if o, ok := committed.Lookup(topic, p); ok {
			old = o.At
		}
		s, sok := starts.Lookup(topic, p)
		e, eok := ends.Lookup(topic, p)
		if !sok || !eok || s.Err != nil || e.Err != nil {
			firstErr = fmt.Errorf("cannot list the offsets of %s[%d]: %v", topic, p, errors.Join(s.Err, e.Err))
			return
		}
		next, err := newOffset(target, old, s.Offset, e.Offset, byTime, topic, p)
		if err != nil {
			firstErr = err
			return
		}
		changes = append(changes, OffsetChange{Topic: topic, Partition: p, Old: old, New: next})
	})
	if firstErr != nil {
		return nil, firstErr
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].Topic != changes[j].Topic {
			return changes[i].Topic < changes[j].Topic
		}
		return changes[i].Partition < changes[j].Partition
	})
	if !execute {
		return changes, nil
	}
	offsets := make(kadm.Offsets)
	for _, ch := range changes {
		offsets.Add(kadm.Offset{Topic: ch.Topic, Partition: ch.Partition, At: ch.New, LeaderEpoch: -1})
	}
	resp, err := c.adm.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return nil, fmt.Errorf("cannot commit the new offsets of group %s: %w", group, err)
	}
	for i, ch := range changes {
		r, ok := resp.Lookup(ch.Topic, ch.Partition)
		switch {
		case !ok:
			changes[i].Err = "no answer for this partition"
		case r.Err != nil:
			changes[i].Err = r.Err.Error()
		}
	}
	return changes, nil
}

// newOffset is one partition's reset offset; offsets outside [start, end] are moved to
// the nearer bound, as Kafka's tool does.
func newOffset(t ResetTarget, old, start, end int64, byTime kadm.ListedOffsets, topic string, p int32) (int64, error) {
	clamp := func(o int64) int64 { return min(max(o, start), end) }
	switch t.Kind {
	case ToEarliest:
		return start, nil
	case ToLatest:
		return end, nil
	case ToCurrent:
		if old < 0 {
			return end, nil
		}
		return clamp(old), nil
	case ToOffset:
		return clamp(t.Offset), nil
	case ShiftBy:
		if old < 0 {
			return 0, fmt.Errorf("cannot shift the offset of %s[%d]: the group has no committed offset there", topic, p)
		}
		return clamp(old + t.Shift), nil
	case ToDatetime:
		o, ok := byTime.Lookup(topic, p)
		if !ok || o.Err != nil {
			return 0, fmt.Errorf("cannot find the offset of %s[%d] at %s: %v", topic, p, t.Time.Format(time.RFC3339), o.Err)
		}
		if o.Offset < 0 {
			return end, nil
		}
		return clamp(o.Offset), nil
	}
	return 0, fmt.Errorf("BUG: unknown reset kind %d", t.Kind)
}

// resolveScope turns the scope into partitions, checking that named topics and
// partitions exist.
func (c *Client) resolveScope(ctx context.Context, scope ResetScope, committed kadm.OffsetResponses) (kadm.TopicsSet, error) {
	parts := make(kadm.TopicsSet)
	if scope.AllTopics {
		committed.Each(func(o kadm.OffsetResponse) { parts.Add(o.Topic, o.Partition) })
	}
	if len(scope.Topics) == 0 {
		return parts, nil
	}
	names := make([]string, 0, len(scope.Topics))
	for t := range scope.Topics {
		names = append(names, t)
	}
	slices.Sort(names)
	details, err := c.adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("cannot look up topics %v: %w", names, err)
	}
	for _, t := range names {
		td, ok := details[t]
		switch {
		case !ok:
			return nil, fmt.Errorf("cannot reset offsets of topic %s: no answer for it", t)
		case td.Err != nil:
			return nil, fmt.Errorf("cannot reset offsets of topic %s: %w", t, td.Err)
		}
		want := scope.Topics[t]
		if len(want) == 0 {
			for p := range td.Partitions {
				parts.Add(t, p)
			}
			continue
		}
		for _, p := range want {
			if _, ok := td.Partitions[p]; !ok {
				return nil, fmt.Errorf("topic %s has no partition %d (it has %d)", t, p, len(td.Partitions))
			}
			parts.Add(t, p)
		}
	}
	return parts, nil
}
