package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Group types as ListGroups v5+ names them (KIP-848).
const (
	TypeClassic  = "classic"
	TypeConsumer = "consumer"
)

// ErrGroupNotFound is returned for a group the coordinator does not know, of either type.
var ErrGroupNotFound = errors.New("group does not exist")

// GroupListing is one row of ListGroups.
type GroupListing struct {
	Group        string `json:"group"`
	Type         string `json:"type"`          // classic or consumer; empty from brokers before ListGroups v5
	State        string `json:"state"`         // Empty, Stable, PreparingRebalance, ...
	ProtocolType string `json:"protocol_type"` // consumer, connect, ... (classic groups)
	Coordinator  int32  `json:"coordinator"`
}

// ListGroups lists every group, or only those in one of states (matched as Kafka
// matches them: case-insensitively).
func (c *Client) ListGroups(ctx context.Context, states ...string) ([]GroupListing, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	listed, err := c.adm.ListGroups(ctx, states...)
	if err != nil {
		return nil, fmt.Errorf("cannot list groups: %w", err)
	}
	out := make([]GroupListing, 0, len(listed))
	for _, g := range listed.Sorted() {
		out = append(out, GroupListing{
			Group: g.Group, Type: g.GroupType, State: g.State,
			ProtocolType: g.ProtocolType, Coordinator: g.Coordinator,
		})
	}
	return out, nil
}

// Member is one member of a group, of either type.
type Member struct {
	MemberID   string             `json:"member_id"`
	InstanceID string             `json:"instance_id,omitempty"` // group.instance.id (KIP-345)
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	Assigned   map[string][]int32 `json:"assigned"` // topic -> partitions, sorted
}

// PartitionOffset is one partition of a group's view: what it committed, where the log
// ends, and who consumes it now. Committed and Lag are -1 when the group committed nothing
// for the partition; LogEnd and LogStart are -1 when they could not be listed.
type PartitionOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
	Metadata  string `json:"metadata,omitempty"`
	MemberID  string `json:"member_id,omitempty"` // empty when no member is assigned the partition
	Host      string `json:"host,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Err       string `json:"error,omitempty"` // why an offset could not be listed
}

// GroupDescription is what `kafscale groups describe` shows of one group.
type GroupDescription struct {
	Group        string            `json:"group"`
	Type         string            `json:"type"` // classic or consumer
	State        string            `json:"state"`
	ProtocolType string            `json:"protocol_type,omitempty"` // classic groups
	Protocol     string            `json:"protocol,omitempty"`      // the client-side assignor (classic) or server-side assignor (consumer)
	Epoch        int32             `json:"epoch,omitempty"`         // group epoch (consumer groups)
	Coordinator  int32             `json:"coordinator"`
	Members      []Member          `json:"members"` // never nil, so JSON shows []
	Offsets      []PartitionOffset `json:"offsets"` // never nil
}

// TotalLag sums the lag of the partitions that have a committed offset.
func (d *GroupDescription) TotalLag() int64 {
	var n int64
	for _, o := range d.Offsets {
		if o.Lag > 0 {
			n += o.Lag
		}
	}
	return n
}

// DescribeGroup describes one group of either type: its members and their assignments,
// and per partition the committed offset, the log end and the lag. The partitions shown
// are those the group committed offsets for and those its members are assigned, as
// kafka-consumer-groups --describe shows them.
func (c *Client) DescribeGroup(ctx context.Context, group string) (*GroupDescription, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	d, err := c.describeMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	committed, err := c.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch the committed offsets of group %s: %w", group, err)
	}
	if err := committed.Error(); err != nil {
		return nil, fmt.Errorf("cannot fetch the committed offsets of group %s: %w", group, err)
	}

	type tp struct {
		topic string
		p     int32
	}
	rows := map[tp]*PartitionOffset{}
	row := func(topic string, p int32) *PartitionOffset {
		k := tp{topic, p}
		r := rows[k]
		if r == nil {
			r = &PartitionOffset{Topic: topic, Partition: p, Committed: -1, LogStart: -1, LogEnd: -1, Lag: -1}
			rows[k] = r
		}
		return r
	}
	committed.Each(func(o kadm.OffsetResponse) {
		r := row(o.Topic, o.Partition)
		r.Committed, r.Metadata = o.At, o.Metadata
	})
	for _, m := range d.Members {
		for topic, ps := range m.Assigned {
			for _, p := range ps {
				r := row(topic, p)
				r.MemberID, r.Host, r.ClientID = m.MemberID, m.Host, m.ClientID
			}
		}
	}
	if len(rows) > 0 {
		topics := make([]string, 0, len(rows))
		for k := range rows {
			topics = append(topics, k.topic)
		}
		slices.Sort(topics)
		topics = slices.Compact(topics)
		starts, ends, err := c.logBounds(ctx, topics)
		if err != nil {
			return nil, err
		}
		for k, r := range rows {
			s, sok := starts.Lookup(k.topic, k.p)
			e, eok := ends.Lookup(k.topic, k.p)
			switch {
			case !sok || !eok:
				r.Err = "partition not found"
			case s.Err != nil:
				r.Err = s.Err.Error()
			case e.Err != nil:
				r.Err = e.Err.Error()
			default:
				r.LogStart, r.LogEnd = s.Offset, e.Offset
				if r.Committed >= 0 {
					r.Lag = max(r.LogEnd-r.Committed, 0)
				}
			}
		}
	}
	d.Offsets = make([]PartitionOffset, 0, len(rows))
	for _, r := range rows {
		d.Offsets = append(d.Offsets, *r)
	}
	sort.Slice(d.Offsets, func(i, j int) bool {
		a, b := d.Offsets[i], d.Offsets[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return d, nil
}

// logBounds lists the start and end offsets of every partition of topics. A topic that
// does not exist (any more) shows as an error on its partitions, not as a failure.
func (c *Client) logBounds(ctx context.Context, topics []string) (starts, ends kadm.ListedOffsets, err error) {
	starts, err = c.adm.ListStartOffsets(ctx, topics...)
	if err != nil && !isShardError(err) {
		return nil, nil, fmt.Errorf("cannot list start offsets of %v: %w", topics, err)
	}
	ends, err = c.adm.ListEndOffsets(ctx, topics...)
	if err != nil && !isShardError(err) {
		return nil, nil, fmt.Errorf("cannot list end offsets of %v: %w", topics, err)
	}
	return starts, ends, nil
}

// isShardError is true for kadm's partial failures, whose per-partition errors the caller
// reports row by row.
func isShardError(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

// describeMembers asks the classic DescribeGroups first and, where the coordinator says
// the group is not a classic one (Dead or GROUP_ID_NOT_FOUND), ConsumerGroupDescribe
// (KIP-848): neither API describes the other type's groups.
func (c *Client) describeMembers(ctx context.Context, group string) (*GroupDescription, error) {
	classic, err := c.adm.DescribeGroups(ctx, group)
	if err != nil && !isShardError(err) {
		return nil, fmt.Errorf("cannot describe group %s: %w", group, err)
	}
	g, ok := classic[group]
	if ok && g.Err == nil && g.State != "Dead" {
		d := &GroupDescription{
			Group: group, Type: TypeClassic, State: g.State, ProtocolType: g.ProtocolType,
			Protocol: g.Protocol, Coordinator: g.Coordinator.NodeID, Members: []Member{},
		}
		for _, m := range g.Members {
			mm := Member{MemberID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost}
			if a, ok := m.Assigned.AsConsumer(); ok {
				mm.Assigned = map[string][]int32{}
				for _, t := range a.Topics {
					mm.Assigned[t.Topic] = sorted(t.Partitions)
				}
			}
			d.Members = append(d.Members, mm)
		}
		return d, nil
	}
	if ok && g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("cannot describe group %s: %w", group, g.Err)
	}

	consumer, err := c.adm.DescribeConsumerGroups(ctx, group)
	if err != nil && !isShardError(err) {
		return nil, fmt.Errorf("cannot describe consumer group %s: %w", group, err)
	}
	cg, ok := consumer[group]
	if !ok || errors.Is(cg.Err, kerr.GroupIDNotFound) {
		// Dead to DescribeGroups and unknown to ConsumerGroupDescribe: Kafka's tool calls
		// this a group that does not exist.
		return nil, fmt.Errorf("%w: %s", ErrGroupNotFound, group)
	}
	if cg.Err != nil {
		return nil, fmt.Errorf("cannot describe consumer group %s: %w", group, cg.Err)
	}
	d := &GroupDescription{
		Group: group, Type: TypeConsumer, State: cg.State, Protocol: cg.AssignorName,
		Epoch: cg.Epoch, Coordinator: cg.Coordinator.NodeID, Members: []Member{},
	}
	for _, m := range cg.Members {
		mm := Member{MemberID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost, Assigned: map[string][]int32{}}
		m.Assignment.EachPartitions(func(topic string, ps []int32) { mm.Assigned[topic] = sorted(ps) })
		d.Members = append(d.Members, mm)
	}
	return d, nil
}

// DeleteGroups deletes groups and their committed offsets. A group with members is not
// deleted (NON_EMPTY_GROUP). The map holds each group's own result.
func (c *Client) DeleteGroups(ctx context.Context, groups ...string) (map[string]error, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.adm.DeleteGroups(ctx, groups...)
	if err != nil && !isShardError(err) {
		return nil, fmt.Errorf("cannot delete groups %v: %w", groups, err)
	}
	out := make(map[string]error, len(groups))
	for _, g := range groups {
		r, ok := resp[g]
		switch {
		case !ok:
			out[g] = errors.New("no answer from the coordinator")
		default:
			out[g] = r.Err
		}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sorted(ps []int32) []int32 {
	ps = slices.Clone(ps)
	slices.Sort(ps)
	return ps
}

// FormatPartitions renders an assignment as "topic:0,1,2 other:3".
func FormatPartitions(assigned map[string][]int32) string {
	topics := make([]string, 0, len(assigned))
	for t := range assigned {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
		b.WriteByte(':')
		for j, p := range assigned[t] {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", p)
		}
	}
	return b.String()
}
