package bucketmeta

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// GroupSnapshot is one group's committed offsets as a snapshot object holds them (JSON, so
// an operator can read one with any S3 client).
type GroupSnapshot struct {
	Version       int            `json:"version"`
	Group         string         `json:"group"`
	WrittenUnixMs int64          `json:"written_unix_ms"`
	Offsets       []GroupOffsetV `json:"offsets"`
}

// GroupOffsetV is one committed offset in a GroupSnapshot.
type GroupOffsetV struct {
	TopicID      string `json:"topic_id"` // 32 hex characters
	Partition    int32  `json:"partition"`
	Offset       int64  `json:"offset"`
	LeaderEpoch  int32  `json:"leader_epoch"`
	Metadata     string `json:"metadata,omitempty"`
	CommitUnixMs int64  `json:"commit_unix_ms"`
	ExpireUnixMs int64  `json:"expire_unix_ms,omitempty"`
}

const groupSnapshotVersion = 1

// EncodeGroup returns the snapshot bytes of a group's offsets, written at now.
func EncodeGroup(group string, offsets []meta.GroupOffset, now time.Time) ([]byte, error) {
	s := GroupSnapshot{Version: groupSnapshotVersion, Group: group, WrittenUnixMs: now.UnixMilli()}
	for _, o := range offsets {
		s.Offsets = append(s.Offsets, GroupOffsetV{TopicID: hex.EncodeToString(o.Partition.TopicID[:]),
			Partition: o.Partition.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CommitUnixMs: o.CommitUnixMs, ExpireUnixMs: o.ExpireUnixMs})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("cannot encode offsets of group %q: %w", group, err)
	}
	return b, nil
}

// DecodeGroup parses snapshot bytes into the group id and its offsets.
func DecodeGroup(b []byte) (string, []meta.GroupOffset, error) {
	var s GroupSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return "", nil, fmt.Errorf("cannot decode group offsets snapshot: %w", err)
	}
	if s.Version != groupSnapshotVersion {
		return "", nil, fmt.Errorf("cannot decode group offsets snapshot: version %d, this code reads %d", s.Version, groupSnapshotVersion)
	}
	out := make([]meta.GroupOffset, 0, len(s.Offsets))
	for _, o := range s.Offsets {
		var pk meta.PartitionKey
		if len(o.TopicID) != 32 {
			return "", nil, fmt.Errorf("cannot decode group offsets snapshot of %q: topic id %q", s.Group, o.TopicID)
		}
		if _, err := hex.Decode(pk.TopicID[:], []byte(o.TopicID)); err != nil {
			return "", nil, fmt.Errorf("cannot decode group offsets snapshot of %q: topic id %q: %w", s.Group, o.TopicID, err)
		}
		pk.Partition = o.Partition
		out = append(out, meta.GroupOffset{Partition: pk, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CommitUnixMs: o.CommitUnixMs, ExpireUnixMs: o.ExpireUnixMs})
	}
	return s.Group, out, nil
}

// PutGroup writes a snapshot of a group's offsets and deletes the group's older ones.
func PutGroup(ctx context.Context, st objstore.Store, group string, offsets []meta.GroupOffset) error {
	now := time.Now()
	val, err := EncodeGroup(group, offsets, now)
	if err != nil {
		return err
	}
	key := segment.GroupOffsetsKey(meta.EscapeGroup(group), now)
	if err := st.Put(ctx, key, [][]byte{val}, int64(len(val))); err != nil && !errors.Is(err, objstore.ErrExists) {
		return fmt.Errorf("cannot write offsets snapshot %s of group %q: %w", key, group, err)
	}
	groupWrites.Inc()
	return deleteBefore(ctx, st, groupPrefix(group), key)
}

// DeleteGroup deletes every snapshot of a group (the group is gone from etcd).
func DeleteGroup(ctx context.Context, st objstore.Store, group string) error {
	return deleteBefore(ctx, st, groupPrefix(group), "")
}

// ReadGroups returns the offsets of the newest snapshot of every group in the bucket. A
// snapshot that does not decode is an error naming its key, or, with onBad, passed to it
// and left out.
func ReadGroups(ctx context.Context, st objstore.Store, onBad func(key string, err error)) (map[string][]meta.GroupOffset, error) {
	newest, err := listGroupSnapshots(ctx, st)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]meta.GroupOffset, len(newest))
	for group, o := range newest {
		b, _, err := st.GetSuffix(ctx, o.Key, 1<<30)
		if errors.Is(err, objstore.ErrNotFound) {
			continue // replaced meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read group offsets snapshot %s: %w", o.Key, err)
		}
		g, offs, err := DecodeGroup(b)
		if err == nil && g != group {
			err = fmt.Errorf("group offsets snapshot holds group %q", g)
		}
		if err != nil {
			if onBad == nil {
				return nil, fmt.Errorf("%s: %w", o.Key, err)
			}
			onBad(o.Key, err)
			continue
		}
		out[group] = offs
	}
	return out, nil
}

// listGroupSnapshots returns the newest snapshot object of every group in the bucket.
func listGroupSnapshots(ctx context.Context, st objstore.Store) (map[string]objstore.ObjectInfo, error) {
	objs, err := st.List(ctx, segment.GroupOffsetsPrefix)
	if err != nil {
		return nil, fmt.Errorf("cannot list group offsets snapshots: %w", err)
	}
	newest := map[string]objstore.ObjectInfo{}
	for _, o := range objs {
		rest, _ := strings.CutPrefix(o.Key, segment.GroupOffsetsPrefix)
		esc, _, ok := strings.Cut(rest, "/")
		if !ok || esc == "" {
			return nil, fmt.Errorf("cannot parse group offsets key %q", o.Key)
		}
		if _, err := segment.KeyTime(o.Key); err != nil {
			return nil, err
		}
		group, err := meta.UnescapeGroup(esc)
		if err != nil {
			return nil, fmt.Errorf("cannot parse group offsets key %q: %w", o.Key, err)
		}
		if o.Key > newest[group].Key {
			newest[group] = o
		}
	}
	return newest, nil
}

func groupPrefix(group string) string {
	return segment.GroupOffsetsPrefix + meta.EscapeGroup(group) + "/"
}
