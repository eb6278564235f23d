package meta

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// Consumer-group keys under the prefix (docs/groups.md):
//
//	groups/<group>/offsets/<topic-id hex>/<p>   GroupOffset
//
// <group> is the group id escaped with EscapeGroup: every byte other than an
// ASCII letter, digit, '.', '_' or '-' becomes %XX. So a group's keys never
// share a prefix with another group's ("a" is groups/a/..., "a/b" is
// groups/a%2Fb/...), and a whole group is one prefix: an OffsetFetch of the
// group is one range read, DeleteGroups one range delete. Offsets are keyed by
// topic id, never by name: a deleted and recreated topic has a new id, so it
// never inherits the old topic's offsets.

// EscapeGroup returns the form of a group id used in keys.
func EscapeGroup(group string) string {
	var b strings.Builder
	b.Grow(len(group))
	for i := 0; i < len(group); i++ {
		c := group[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		const digits = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

// UnescapeGroup inverts EscapeGroup.
func UnescapeGroup(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("cannot unescape group %q: truncated escape", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("cannot unescape group %q: bad escape %q", s, s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// GroupPrefix returns groups/<group>/, the prefix of every key of the group.
func (k Keys) GroupPrefix(group string) string {
	return k.GroupsPrefix() + EscapeGroup(group) + "/"
}

// GroupOffsetsPrefix returns groups/<group>/offsets/.
func (k Keys) GroupOffsetsPrefix(group string) string { return k.GroupPrefix(group) + "offsets/" }

// GroupOffset returns groups/<group>/offsets/<topic-id>/<p>.
func (k Keys) GroupOffset(group string, pk PartitionKey) string {
	return k.GroupOffsetsPrefix(group) + hex.EncodeToString(pk.TopicID[:]) + "/" + strconv.FormatInt(int64(pk.Partition), 10)
}

// ParseGroupKey returns the group id of any key under groups/ and the rest of
// the key after groups/<group>/.
func (k Keys) ParseGroupKey(key string) (group, rest string, err error) {
	after, ok := strings.CutPrefix(key, k.GroupsPrefix())
	if !ok {
		return "", "", fmt.Errorf("cannot parse group key %q", key)
	}
	esc, rest, ok := strings.Cut(after, "/")
	if !ok || esc == "" {
		return "", "", fmt.Errorf("cannot parse group key %q", key)
	}
	group, err = UnescapeGroup(esc)
	if err != nil {
		return "", "", fmt.Errorf("cannot parse group key %q: %w", key, err)
	}
	return group, rest, nil
}

// ParseGroupOffset returns the group and partition of a groups/<group>/offsets/ key.
func (k Keys) ParseGroupOffset(key string) (string, PartitionKey, error) {
	group, rest, err := k.ParseGroupKey(key)
	if err != nil {
		return "", PartitionKey{}, err
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] != "offsets" {
		return "", PartitionKey{}, fmt.Errorf("cannot parse group offset key %q", key)
	}
	pk, err := parsePartitionKey(parts[1], parts[2])
	if err != nil {
		return "", PartitionKey{}, fmt.Errorf("cannot parse group offset key %q: %w", key, err)
	}
	return group, pk, nil
}

// GroupOffset is one committed offset of a consumer group.
type GroupOffset struct {
	Partition    PartitionKey
	Offset       int64
	LeaderEpoch  int32 // -1 if unknown
	Metadata     string
	CommitUnixMs int64
	ExpireUnixMs int64 // 0: the broker's retention applies
}

// CommitOffsets writes a group's committed offsets in one transaction of puts
// (a commit is atomic, as a Kafka OffsetCommit is), or, when there are more
// than Config.MaxTxnOps, in transactions of that many each, which are not
// atomic with each other. No compare: the coordinator has validated the
// member and generation, and offsets are keyed by topic id. A partition named
// more than once gets its last offset, as in Kafka, whose commit appends one
// record per partition named and replays them in order (etcd refuses a
// transaction that puts one key twice).
func (s *Store) CommitOffsets(ctx context.Context, group string, offsets []GroupOffset) error {
	return s.CommitOffsetsFenced(ctx, GroupFence{}, group, offsets)
}

// GroupFence fences a group write on its coordinator's broker fence: the write happens
// only while mod_revision(fences/<Broker>) == Rev, so a broker that lost the group's
// coordinator slot (the move bumped its fence) writes nothing. The zero value does not
// fence. A fenced write fails with an error wrapping ErrFenced.
type GroupFence struct {
	Broker int32
	Rev    int64
}

func (s *Store) groupTxn(ctx context.Context, f GroupFence, ops ...clientv3.Op) error {
	txn := s.kv.Txn(ctx)
	if f.Rev != 0 {
		txn = txn.If(clientv3.Compare(clientv3.ModRevision(s.keys.Fence(f.Broker)), "=", f.Rev))
	}
	resp, err := txn.Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("fence of broker %d moved from revision %d: %w", f.Broker, f.Rev, ErrFenced)
	}
	return nil
}

// CommitOffsetsFenced is CommitOffsets fenced on f.
func (s *Store) CommitOffsetsFenced(ctx context.Context, f GroupFence, group string, offsets []GroupOffset) error {
	offsets = lastOfEach(offsets, func(o GroupOffset) PartitionKey { return o.Partition })
	for batch := range slices.Chunk(offsets, s.cfg.MaxTxnOps) {
		ops := make([]clientv3.Op, 0, len(batch))
		for _, o := range batch {
			val, err := marshal(&metapb.GroupOffset{
				Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata,
				CommitUnixMs: o.CommitUnixMs, ExpireUnixMs: o.ExpireUnixMs,
			})
			if err != nil {
				return fmt.Errorf("cannot encode offset of group %q partition %s: %w", group, o.Partition, err)
			}
			ops = append(ops, clientv3.OpPut(s.keys.GroupOffset(group, o.Partition), string(val)))
		}
		if err := s.groupTxn(ctx, f, ops...); err != nil {
			return fmt.Errorf("cannot commit %d offsets of group %q: %w", len(batch), group, err)
		}
	}
	return nil
}

// lastOfEach returns xs without the elements whose key comes again later in xs, in
// order: xs itself when no key repeats (the usual case).
func lastOfEach[T any](xs []T, key func(T) PartitionKey) []T {
	last := make(map[PartitionKey]int, len(xs))
	for i, x := range xs {
		last[key(x)] = i
	}
	if len(last) == len(xs) {
		return xs
	}
	out := make([]T, 0, len(last))
	for i, x := range xs {
		if last[key(x)] == i {
			out = append(out, x)
		}
	}
	return out
}

// FetchOffsets returns every committed offset of a group, ordered by topic id
// and partition, with one range read.
func (s *Store) FetchOffsets(ctx context.Context, group string) ([]GroupOffset, error) {
	prefix := s.keys.GroupOffsetsPrefix(group)
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cannot read offsets of group %q: %w", group, err)
	}
	out := make([]GroupOffset, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		_, pk, err := s.keys.ParseGroupOffset(string(kv.Key))
		if err != nil {
			return nil, err
		}
		v := &metapb.GroupOffset{}
		if err := proto.Unmarshal(kv.Value, v); err != nil {
			return nil, fmt.Errorf("cannot decode group offset %s: %w", kv.Key, err)
		}
		out = append(out, GroupOffset{
			Partition: pk, Offset: v.Offset, LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata,
			CommitUnixMs: v.CommitUnixMs, ExpireUnixMs: v.ExpireUnixMs,
		})
	}
	// Key order sorts partitions as strings ("10" < "2"); callers want numbers.
	slices.SortFunc(out, func(a, b GroupOffset) int {
		if c := cmp.Compare(string(a.Partition.TopicID[:]), string(b.Partition.TopicID[:])); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition.Partition, b.Partition.Partition)
	})
	return out, nil
}

// DeleteOffsets deletes some committed offsets of a group (OffsetDelete), in
// one transaction per Config.MaxTxnOps partitions. Absent offsets are no error,
// nor is a partition named twice.
func (s *Store) DeleteOffsets(ctx context.Context, group string, parts []PartitionKey) error {
	return s.DeleteOffsetsFenced(ctx, GroupFence{}, group, parts)
}

// DeleteOffsetsFenced is DeleteOffsets fenced on f.
func (s *Store) DeleteOffsetsFenced(ctx context.Context, f GroupFence, group string, parts []PartitionKey) error {
	parts = lastOfEach(parts, func(pk PartitionKey) PartitionKey { return pk })
	for batch := range slices.Chunk(parts, s.cfg.MaxTxnOps) {
		ops := make([]clientv3.Op, 0, len(batch))
		for _, pk := range batch {
			ops = append(ops, clientv3.OpDelete(s.keys.GroupOffset(group, pk)))
		}
		if err := s.groupTxn(ctx, f, ops...); err != nil {
			return fmt.Errorf("cannot delete %d offsets of group %q: %w", len(batch), group, err)
		}
	}
	return nil
}

// DeleteGroup deletes every key of a group with one range delete and returns
// how many there were.
func (s *Store) DeleteGroup(ctx context.Context, group string) (int64, error) {
	return s.DeleteGroupFenced(ctx, GroupFence{}, group)
}

// DeleteGroupFenced is DeleteGroup fenced on f.
func (s *Store) DeleteGroupFenced(ctx context.Context, f GroupFence, group string) (int64, error) {
	prefix := s.keys.GroupPrefix(group)
	txn := s.kv.Txn(ctx)
	if f.Rev != 0 {
		txn = txn.If(clientv3.Compare(clientv3.ModRevision(s.keys.Fence(f.Broker)), "=", f.Rev))
	}
	resp, err := txn.Then(clientv3.OpDelete(prefix, clientv3.WithPrefix())).Commit()
	if err != nil {
		return 0, fmt.Errorf("cannot delete group %q: %w", group, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("cannot delete group %q: fence of broker %d moved from revision %d: %w", group, f.Broker, f.Rev, ErrFenced)
	}
	return resp.Responses[0].GetResponseDeleteRange().Deleted, nil
}

// GroupExists reports whether any key of the group is stored (a count-only read).
func (s *Store) GroupExists(ctx context.Context, group string) (bool, error) {
	prefix := s.keys.GroupPrefix(group)
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("cannot read group %q: %w", group, err)
	}
	return resp.Count > 0, nil
}

// ListGroups returns the ids of every group with a stored key, sorted by their
// escaped form. It reads keys only, in pages, all at one revision; after each
// page it skips past the rest of the last group seen, so a group with many
// offsets costs at most one extra page.
func (s *Store) ListGroups(ctx context.Context) ([]string, error) {
	prefix := s.keys.GroupsPrefix()
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	var out []string
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(s.pageSize), clientv3.WithKeysOnly()}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.kv.Get(ctx, from, opts...)
		if err != nil {
			return nil, fmt.Errorf("cannot list groups under %s: %w", prefix, err)
		}
		rev = resp.Header.Revision
		last := ""
		for _, kv := range resp.Kvs {
			group, _, err := s.keys.ParseGroupKey(string(kv.Key))
			if err != nil {
				return nil, err
			}
			if len(out) == 0 || out[len(out)-1] != group {
				out = append(out, group)
			}
			last = group
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		from = clientv3.GetPrefixRangeEnd(s.keys.GroupPrefix(last))
	}
}
