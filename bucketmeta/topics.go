package bucketmeta

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// manifestMagic starts every topic manifest, followed by a version byte and the topic as
// the protobuf metapb.Topic (the value etcd holds under topics/<name>).
const manifestMagic = "KSTM"

const manifestVersion = 1

// Manifest is the newest manifest of one topic found in the bucket.
type Manifest struct {
	Key   string
	Topic *metapb.Topic
}

// EncodeTopic returns the manifest bytes of t.
func EncodeTopic(t *metapb.Topic) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("cannot encode manifest of topic %s: %w", t.Name, err)
	}
	return append(append([]byte(manifestMagic), manifestVersion), b...), nil
}

// DecodeTopic parses manifest bytes.
func DecodeTopic(b []byte) (*metapb.Topic, error) {
	if len(b) < len(manifestMagic)+1 || string(b[:len(manifestMagic)]) != manifestMagic {
		return nil, errors.New("cannot decode topic manifest: bad magic")
	}
	if v := b[len(manifestMagic)]; v != manifestVersion {
		return nil, fmt.Errorf("cannot decode topic manifest: version %d, this code reads %d", v, manifestVersion)
	}
	t := &metapb.Topic{}
	if err := proto.Unmarshal(b[len(manifestMagic)+1:], t); err != nil {
		return nil, fmt.Errorf("cannot decode topic manifest: %w", err)
	}
	if len(t.Id) != 16 || t.Name == "" || t.Partitions <= 0 {
		return nil, fmt.Errorf("cannot decode topic manifest: id of %d bytes, name %q, %d partitions", len(t.Id), t.Name, t.Partitions)
	}
	return t, nil
}

// SameTopic reports whether two topic values are equal as a manifest stores them.
func SameTopic(a, b *metapb.Topic) bool {
	ea, err1 := EncodeTopic(a)
	eb, err2 := EncodeTopic(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

// PutTopic writes a new manifest of t and then deletes the topic's older manifests. Two
// writers racing may leave the older state newest; the periodic Syncer compares the newest
// manifest with etcd and writes again, so a manifest lags etcd by at most one interval.
func PutTopic(ctx context.Context, st objstore.Store, t *metapb.Topic) error {
	return putTopic(ctx, st, t, time.Now())
}

func putTopic(ctx context.Context, st objstore.Store, t *metapb.Topic, now time.Time) error {
	val, err := EncodeTopic(t)
	if err != nil {
		return err
	}
	key := segment.TopicManifestKey([16]byte(t.Id), now)
	if err := st.Put(ctx, key, [][]byte{val}, int64(len(val))); err != nil && !errors.Is(err, objstore.ErrExists) {
		return fmt.Errorf("cannot write manifest %s of topic %s: %w", key, t.Name, err)
	}
	manifestWrites.Inc()
	return deleteBefore(ctx, st, topicPrefix([16]byte(t.Id)), key)
}

// DeleteTopic deletes every manifest of a topic id (the topic was deleted).
func DeleteTopic(ctx context.Context, st objstore.Store, id [16]byte) error {
	return deleteBefore(ctx, st, topicPrefix(id), "")
}

// ReadTopics returns the newest manifest of every topic id in the bucket. An object that
// does not parse or decode is an error naming its key, or, with onBad, passed to it and
// left out (fsck reports it; a rebuild never guesses a topic).
func ReadTopics(ctx context.Context, st objstore.Store, onBad func(key string, err error)) (map[[16]byte]Manifest, error) {
	objs, err := st.List(ctx, segment.TopicManifestPrefix)
	if err != nil {
		return nil, fmt.Errorf("cannot list topic manifests: %w", err)
	}
	newest := map[[16]byte]string{}
	for _, o := range objs {
		id, err := parseTopicKey(o.Key)
		if err != nil {
			if onBad == nil {
				return nil, err
			}
			onBad(o.Key, err)
			continue
		}
		newest[id] = max(newest[id], o.Key) // ULIDs sort by time
	}
	out := make(map[[16]byte]Manifest, len(newest))
	for id, key := range newest {
		b, _, err := st.GetSuffix(ctx, key, 1<<30)
		if errors.Is(err, objstore.ErrNotFound) {
			continue // replaced meanwhile; the next read finds the newer one
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read topic manifest %s: %w", key, err)
		}
		t, err := DecodeTopic(b)
		if err == nil && [16]byte(t.Id) != id {
			err = fmt.Errorf("topic manifest holds topic id %x", t.Id)
		}
		if err != nil {
			if onBad == nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			onBad(key, err)
			continue
		}
		out[id] = Manifest{Key: key, Topic: t}
	}
	return out, nil
}

func topicPrefix(id [16]byte) string {
	return segment.TopicManifestPrefix + hex.EncodeToString(id[:]) + "/"
}

// parseTopicKey returns the topic id of a topics/<id hex>/<ULID> key.
func parseTopicKey(key string) ([16]byte, error) {
	var id [16]byte
	rest, _ := strings.CutPrefix(key, segment.TopicManifestPrefix)
	idHex, ulid, ok := strings.Cut(rest, "/")
	if !ok || len(idHex) != 32 || strings.Contains(ulid, "/") {
		return id, fmt.Errorf("cannot parse topic manifest key %q", key)
	}
	if _, err := hex.Decode(id[:], []byte(idHex)); err != nil {
		return id, fmt.Errorf("cannot parse topic manifest key %q: %w", key, err)
	}
	if _, err := segment.KeyTime(key); err != nil {
		return id, err
	}
	return id, nil
}

// deleteBefore deletes the objects under prefix whose key sorts below keep (all with "").
func deleteBefore(ctx context.Context, st objstore.Store, prefix, keep string) error {
	objs, err := st.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("cannot list %s: %w", prefix, err)
	}
	var keys []string
	for _, o := range objs {
		if keep == "" || o.Key < keep {
			keys = append(keys, o.Key)
		}
	}
	// One request per 1,000 keys, as GC deletes (objstore.Store.DeleteMany).
	for batch := range slices.Chunk(keys, objstore.MaxDeleteBatch) {
		if err := st.DeleteMany(ctx, batch); err != nil {
			return fmt.Errorf("cannot delete objects under %s: %w", prefix, err)
		}
	}
	return nil
}
