package broker

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

// footerReads bounds the footers a takeover reads at once. A restart after minutes of
// unmerged writes folds thousands of flush objects; read one by one, each costs a store
// round trip in turn (docs/benchmarks.md, "One broker at scale").
const footerReads = 32

// extentKey names the extents of one partition at one leader epoch.
type extentKey struct {
	topic     [16]byte
	partition int32
	epoch     int32
}

// chainIndex is one chain's committed objects and, from entry from on, their extents by
// partition and epoch, in seq order. Every partition of a takeover looks its extents up here
// instead of scanning the chain's objects: a restart of 10,000 partitions after minutes of
// writes went through every object's extents once per partition, 10,000 x objects x
// extents (docs/benchmarks.md, "One broker at scale").
type chainIndex struct {
	entries []meta.SeqEntry // by seq
	from    int             // entries[from:] are indexed
	extents map[extentKey][]partition.Extent
}

// chainExtents returns the extents of partition p of topic id that chain ch committed at
// its leader epoch from its first seq on, leaving out objects that voided them.
func (tk *takeover) chainExtents(ctx context.Context, id [16]byte, p int32, ch *metapb.Chain) ([]partition.Extent, error) {
	cid := chainID{ch.BrokerId, ch.Incarnation}
	ci, ok := tk.chains[cid]
	if !ok {
		entries, err := tk.b.meta.ListObjects(ctx, ch.BrokerId, ch.Incarnation, 0)
		if err != nil {
			return nil, err
		}
		ci = &chainIndex{entries: entries, from: len(entries), extents: map[extentKey][]partition.Extent{}}
		tk.chains[cid] = ci
	}
	i := sort.Search(len(ci.entries), func(i int) bool { return ci.entries[i].Seq >= ch.FirstSeq })
	if i < ci.from {
		if err := tk.index(ctx, ci, cid, i); err != nil {
			return nil, err
		}
	}
	list := ci.extents[extentKey{id, p, ch.LeaderEpoch}]
	j := sort.Search(len(list), func(j int) bool { return list[j].Seq >= ch.FirstSeq })
	return list[j:len(list):len(list)], nil
}

// index reads the footers of ci.entries[i:ci.from], footerReads at a time, and adds their
// extents, except those their object voided, ahead of the ones indexed already.
func (tk *takeover) index(ctx context.Context, ci *chainIndex, cid chainID, i int) error {
	todo := ci.entries[i:ci.from]
	footers := make([]segment.Footer, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(footerReads)
	for n, se := range todo {
		g.Go(func() error {
			var f segment.Footer
			var err error
			if e := se.Entry; e.FooterLen > 0 {
				// The entry locates the footer: one GET of its bytes, where a suffix read
				// takes up to FooterReadSize (64 KiB), most of a small flush object.
				f, err = segment.ReadFooterAt(gctx, tk.b.store, e.Key, e.FooterPos, e.FooterLen)
			} else {
				f, err = segment.ReadFooter(gctx, tk.b.store, e.Key)
			}
			if err != nil {
				return fmt.Errorf("cannot read footer of %s: %w", se.Entry.Key, err)
			}
			footers[n] = f
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	takeoverFooters.Add(len(todo))
	added := map[extentKey][]partition.Extent{}
	for n, se := range todo {
		for _, e := range footers[n].Extents {
			if voided(se.Entry, e.TopicID, e.Partition, e.LeaderEpoch) {
				continue
			}
			k := extentKey{e.TopicID, e.Partition, e.LeaderEpoch}
			added[k] = append(added[k], partition.Extent{Key: se.Entry.Key, Extent: e, Broker: cid.broker, Incarnation: cid.incarnation, Seq: se.Seq})
		}
	}
	for k, l := range added {
		ci.extents[k] = append(l, ci.extents[k]...)
	}
	ci.from = i
	return nil
}
