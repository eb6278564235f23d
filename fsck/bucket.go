package fsck

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kafscale/kafscale/bucketmeta"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// Object is one flush, segment or producer-state object of the bucket.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
	// Footer is the decoded footer of a flush or segment object; nil when FooterErr is set
	// or the object has none (producer state).
	Footer    *segment.Footer
	FooterErr error
}

// Bucket is what a scan found in the bucket.
type Bucket struct {
	Flush          []*Object // in key order
	Segments       []*Object // in key order
	ProducerStates []*Object
	ByKey          map[string]*Object
	Manifests      map[[16]byte]bucketmeta.Manifest
	Groups         map[string][]meta.GroupOffset
	// BadMetadata are topic manifests, group snapshots and log-start copies that do not
	// decode, by key: left out, and reported.
	BadMetadata map[string]error
	// LogStarts are the brokers' copies of their partitions' durable log starts.
	LogStarts map[meta.PartitionKey]int64
	// Unknown lists keys under none of the prefixes KafScale writes.
	Unknown []string
}

// Scan lists the bucket and reads the footer of every flush and segment object, parallel
// reads at a time (one suffix GET each).
func Scan(ctx context.Context, st objstore.Store, parallel int) (*Bucket, error) {
	b := &Bucket{ByKey: map[string]*Object{}, BadMetadata: map[string]error{}}
	onBad := func(key string, err error) { b.BadMetadata[key] = err }
	all, err := st.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("cannot list the bucket: %w", err)
	}
	for _, o := range all {
		obj := &Object{Key: o.Key, Size: o.Size, Modified: o.Modified}
		switch {
		case strings.HasPrefix(o.Key, segment.FlushPrefix):
			b.Flush = append(b.Flush, obj)
		case strings.HasPrefix(o.Key, segment.SegmentPrefix):
			b.Segments = append(b.Segments, obj)
		case strings.HasPrefix(o.Key, segment.ProducerStatePrefix):
			b.ProducerStates = append(b.ProducerStates, obj)
		case strings.HasPrefix(o.Key, segment.TopicManifestPrefix), strings.HasPrefix(o.Key, segment.GroupOffsetsPrefix),
			strings.HasPrefix(o.Key, segment.LogStartsPrefix):
			continue // read below
		default:
			b.Unknown = append(b.Unknown, o.Key)
			continue
		}
		b.ByKey[o.Key] = obj
	}
	var withFooter []*Object
	withFooter = append(append(withFooter, b.Flush...), b.Segments...)
	readFooters(ctx, st, withFooter, parallel)
	if b.Manifests, err = bucketmeta.ReadTopics(ctx, st, onBad); err != nil {
		return nil, err
	}
	if b.Groups, err = bucketmeta.ReadGroups(ctx, st, onBad); err != nil {
		return nil, err
	}
	if b.LogStarts, err = bucketmeta.ReadLogStarts(ctx, st, onBad); err != nil {
		return nil, err
	}
	for _, l := range [][]*Object{b.Flush, b.Segments} {
		sort.Slice(l, func(i, j int) bool { return l[i].Key < l[j].Key })
	}
	return b, nil
}

// readFooters reads every object's footer, parallel at a time; a failure is kept in the
// object (a corrupt footer is a finding, not an error of the scan).
func readFooters(ctx context.Context, st objstore.Store, objs []*Object, parallel int) {
	work := make(chan *Object)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				f, err := segment.ReadFooter(ctx, st, o.Key)
				if err != nil {
					o.FooterErr = err
					continue
				}
				o.Footer = &f
			}
		}()
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
}

// created returns when an object was made, as GC judges its age: the later of the time in
// its key (every key ends in a ULID) and the store's modification time.
func (o *Object) created() time.Time {
	t, err := segment.KeyTime(o.Key)
	if err != nil || o.Modified.After(t) {
		return o.Modified
	}
	return t
}
