package bucketmeta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

var (
	manifestWrites = metrics.NewCounter(`kafscale_bucket_topic_manifests_written_total`)
	groupWrites    = metrics.NewCounter(`kafscale_bucket_group_offsets_written_total`)
	logStartWrites = metrics.NewCounter(`kafscale_bucket_log_starts_written_total`)
	syncErrors     = metrics.NewCounter(`kafscale_bucket_metadata_sync_errors_total`)
)

// DefaultInterval is how often a broker copies committed group offsets (and any topic
// manifest that lags etcd) to the bucket: a rebuild restores offsets at most this old.
const DefaultInterval = time.Minute

// Syncer copies what etcd holds and footers cannot give into the bucket. Each broker runs
// one; Owns splits the work (a broker copies the groups it coordinates and the topics whose
// names hash onto its coordinator slots), and objects of topics and groups etcd no longer
// holds are deleted by whoever sees them. Sync must be called from one goroutine at a time:
// it owns written and seen.
type Syncer struct {
	Meta  *meta.Store
	Store objstore.Store
	// Owns reports whether this broker copies a group, or a topic by name.
	Owns func(name string) bool
	// Broker is this broker's id, LogStarts the durable log starts above 0 of the
	// partitions it leads.
	Broker    int32
	LogStarts func() []LogStart
	Log       *slog.Logger

	written   map[string]string // group -> its offsets as last written (time left out)
	seen      map[string]string // manifest key -> its bytes, read or written
	logStarts string            // the log starts as last written (time left out)
}

// Sync runs one round. The bucket is listed before etcd is read: an object listed was
// written after its etcd change, so a topic or group it names that etcd no longer holds was
// deleted, never one about to be created.
func (s *Syncer) Sync(ctx context.Context) error {
	if s.written == nil {
		s.written, s.seen = map[string]string{}, map[string]string{}
	}
	var errs []error
	if err := s.syncGroups(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.syncTopics(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.syncLogStarts(ctx); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if err != nil {
		syncErrors.Inc()
	}
	return err
}

func (s *Syncer) syncGroups(ctx context.Context) error {
	snaps, err := listGroupSnapshots(ctx, s.Store)
	if err != nil {
		return err
	}
	groups, err := s.Meta.ListGroups(ctx)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, g := range groups {
		live[g] = true
		if !s.Owns(g) {
			delete(s.written, g)
			continue
		}
		offs, err := s.Meta.FetchOffsets(ctx, g)
		if err != nil {
			return err
		}
		if len(offs) == 0 {
			live[g] = false // a group without offsets has nothing to restore
			continue
		}
		enc, err := EncodeGroup(g, offs, time.UnixMilli(0))
		if err != nil {
			return err
		}
		if _, ok := snaps[g]; ok && s.written[g] == string(enc) {
			continue
		}
		if err := PutGroup(ctx, s.Store, g, offs); err != nil {
			return err
		}
		s.written[g] = string(enc)
	}
	for g := range snaps {
		if !live[g] && (s.Owns(g) || !slices.Contains(groups, g)) {
			if err := DeleteGroup(ctx, s.Store, g); err != nil {
				return err
			}
			delete(s.written, g)
		}
	}
	return nil
}

func (s *Syncer) syncTopics(ctx context.Context) error {
	objs, err := s.Store.List(ctx, segment.TopicManifestPrefix)
	if err != nil {
		return fmt.Errorf("cannot list topic manifests: %w", err)
	}
	newest := map[[16]byte]string{}
	for _, o := range objs {
		id, err := parseTopicKey(o.Key)
		if err != nil {
			return err
		}
		newest[id] = max(newest[id], o.Key)
	}
	topics, err := s.Meta.ListTopics(ctx)
	if err != nil {
		return err
	}
	live := map[[16]byte]bool{}
	for _, t := range topics {
		id := [16]byte(t.Id)
		live[id] = true
		if !s.Owns(t.Name) {
			continue
		}
		want, err := EncodeTopic(t)
		if err != nil {
			return err
		}
		if key, ok := newest[id]; ok {
			have, ok := s.seen[key]
			if !ok {
				b, _, err := s.Store.GetSuffix(ctx, key, 1<<30)
				if err != nil && !errors.Is(err, objstore.ErrNotFound) {
					return fmt.Errorf("cannot read topic manifest %s: %w", key, err)
				}
				have = string(b)
				s.seen[key] = have
			}
			if have == string(want) {
				continue
			}
		}
		s.Log.Info("topic manifest lags etcd; writing it", "topic", t.Name)
		if err := PutTopic(ctx, s.Store, t); err != nil {
			return err
		}
	}
	for id := range newest {
		if !live[id] {
			if err := DeleteTopic(ctx, s.Store, id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Syncer) syncLogStarts(ctx context.Context) error {
	starts := s.LogStarts()
	enc, err := encodeLogStarts(s.Broker, starts, time.UnixMilli(0))
	if err != nil {
		return err
	}
	if string(enc) == s.logStarts || len(starts) == 0 && s.logStarts == "" {
		return nil
	}
	if err := PutLogStarts(ctx, s.Store, s.Broker, starts); err != nil {
		return err
	}
	s.logStarts = string(enc)
	return nil
}
