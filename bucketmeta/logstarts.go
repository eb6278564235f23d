package bucketmeta

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// Object footers give a partition's lowest offset held, not its log start: DeleteRecords
// and retention move the log start inside the oldest segment still stored, or past every
// record (then nothing below the log start is held, and the next offset would restart at
// 0). So each broker copies the durable log starts (its checkpoints') of the partitions it
// leads, those above 0, every sync interval when they changed; a rebuild takes, per
// partition, the highest log start any broker's newest copy names.

// LogStart is one partition's durable log start.
type LogStart struct {
	Partition meta.PartitionKey
	LogStart  int64
}

type logStartsV struct {
	Version       int          `json:"version"`
	Broker        int32        `json:"broker"`
	WrittenUnixMs int64        `json:"written_unix_ms"`
	Partitions    []logStartPV `json:"partitions"`
}

type logStartPV struct {
	TopicID   string `json:"topic_id"`
	Partition int32  `json:"partition"`
	LogStart  int64  `json:"log_start"`
}

const logStartsVersion = 1

// encodeLogStarts returns the bytes of a broker's log starts, written at now.
func encodeLogStarts(broker int32, starts []LogStart, now time.Time) ([]byte, error) {
	v := logStartsV{Version: logStartsVersion, Broker: broker, WrittenUnixMs: now.UnixMilli(), Partitions: []logStartPV{}}
	for _, s := range starts {
		v.Partitions = append(v.Partitions, logStartPV{TopicID: hex.EncodeToString(s.Partition.TopicID[:]), Partition: s.Partition.Partition, LogStart: s.LogStart})
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot encode log starts of broker %d: %w", broker, err)
	}
	return b, nil
}

func decodeLogStarts(b []byte) ([]LogStart, error) {
	var v logStartsV
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("cannot decode log starts: %w", err)
	}
	if v.Version != logStartsVersion {
		return nil, fmt.Errorf("cannot decode log starts: version %d, this code reads %d", v.Version, logStartsVersion)
	}
	out := make([]LogStart, 0, len(v.Partitions))
	for _, p := range v.Partitions {
		var s LogStart
		if len(p.TopicID) != 32 {
			return nil, fmt.Errorf("cannot decode log starts: topic id %q", p.TopicID)
		}
		if _, err := hex.Decode(s.Partition.TopicID[:], []byte(p.TopicID)); err != nil {
			return nil, fmt.Errorf("cannot decode log starts: topic id %q: %w", p.TopicID, err)
		}
		s.Partition.Partition, s.LogStart = p.Partition, p.LogStart
		out = append(out, s)
	}
	return out, nil
}

// PutLogStarts writes a broker's log starts and deletes its older copies.
func PutLogStarts(ctx context.Context, st objstore.Store, broker int32, starts []LogStart) error {
	now := time.Now()
	val, err := encodeLogStarts(broker, starts, now)
	if err != nil {
		return err
	}
	key := segment.LogStartsKey(broker, now)
	if err := st.Put(ctx, key, [][]byte{val}, int64(len(val))); err != nil && !errors.Is(err, objstore.ErrExists) {
		return fmt.Errorf("cannot write log starts %s: %w", key, err)
	}
	logStartWrites.Inc()
	return deleteBefore(ctx, st, segment.LogStartsPrefix+strconv.Itoa(int(broker))+"/", key)
}

// ReadLogStarts returns, per partition, the highest log start of every broker's newest
// copy (a log start only moves forward, and the partition's last leader wrote the latest).
// An object that does not decode is an error naming its key, or, with onBad, passed to it
// and left out.
func ReadLogStarts(ctx context.Context, st objstore.Store, onBad func(key string, err error)) (map[meta.PartitionKey]int64, error) {
	objs, err := st.List(ctx, segment.LogStartsPrefix)
	if err != nil {
		return nil, fmt.Errorf("cannot list log starts: %w", err)
	}
	newest := map[string]string{}
	for _, o := range objs {
		rest, _ := strings.CutPrefix(o.Key, segment.LogStartsPrefix)
		broker, _, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, fmt.Errorf("cannot parse log starts key %q", o.Key)
		}
		newest[broker] = max(newest[broker], o.Key)
	}
	out := map[meta.PartitionKey]int64{}
	for _, key := range newest {
		b, _, err := st.GetSuffix(ctx, key, 1<<30)
		if errors.Is(err, objstore.ErrNotFound) {
			continue // replaced meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read log starts %s: %w", key, err)
		}
		starts, err := decodeLogStarts(b)
		if err != nil {
			if onBad == nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			onBad(key, err)
			continue
		}
		for _, s := range starts {
			out[s.Partition] = max(out[s.Partition], s.LogStart)
		}
	}
	return out, nil
}
