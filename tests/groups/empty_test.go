package groups

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupThatNeverCommittedStaysEmpty: a franz-go member that consumes without
// committing (kgo.DisableAutoCommit) and closes leaves its group Empty, not gone, as in
// Kafka: kadm describes it Empty with no member and ListGroups lists it under the state
// filter Empty; DeleteGroups deletes it, after which it is Dead (DescribeGroups) or
// unknown (ConsumerGroupDescribe) and a second delete gets GROUP_ID_NOT_FOUND. The group
// used to be forgotten with its last member, so its describe said Dead and its delete
// GROUP_ID_NOT_FOUND. It runs with the classic protocol and with KIP-848.
func TestGroupThatNeverCommittedStaysEmpty(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []kgo.Opt
		typ    string // ListGroups v5 group type
		kip848 bool
	}{
		{name: "classic", typ: "classic"},
		{name: "kip848", opts: []kgo.Opt{kgo.ServerSideBalancer()}, typ: "consumer", kip848: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const partitions, records = 2, 20
			b := startBroker(t)
			topic, group := uniqueName("empty"), uniqueName("g-empty")
			createTopic(t, b.Addr, topic, partitions)
			produce(t, producer(t, b.Addr), topic, partitions, 0, records)

			opts := append(groupConsumerOpts(b.Addr, group, topic), kgo.DisableAutoCommit())
			cl, err := kgo.NewClient(append(opts, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for n := 0; n < records; {
				fs := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("consumed %d of %d records: %v", n, records, err)
				}
				n += fs.NumRecords()
			}
			cl.Close() // leaves the group

			adm := kadm.NewClient(newClient(t, b.Addr))
			describe := func() (state string, members int, err error) {
				if tt.kip848 {
					ds, err := adm.DescribeConsumerGroups(ctx, group)
					d := ds[group]
					return d.State, len(d.Members), errors.Join(err, d.Err)
				}
				ds, err := adm.DescribeGroups(ctx, group)
				d := ds[group]
				if err == nil && d.Err == nil && d.State == "Empty" && d.ProtocolType != "consumer" {
					t.Errorf("DescribeGroups of the Empty group: protocol type %q, want consumer (kept from its members)", d.ProtocolType)
				}
				return d.State, len(d.Members), errors.Join(err, d.Err)
			}
			// Close sent the leave; wait until the coordinator has processed it.
			waitFor(t, 30*time.Second, "the group described Empty", func() bool {
				st, n, err := describe()
				return err == nil && st == "Empty" && n == 0
			})
			if offs, err := adm.FetchOffsets(ctx, group); err != nil || len(offs) != 0 {
				t.Fatalf("committed offsets of the group = %v, %v; want none", offs, err)
			}
			listed, err := adm.ListGroups(ctx, "Empty")
			if err != nil {
				t.Fatalf("ListGroups: %v", err)
			}
			if l, ok := listed[group]; !ok || l.State != "Empty" || l.GroupType != tt.typ || l.ProtocolType != "consumer" {
				t.Fatalf("ListGroups with state filter Empty = %+v, want %s Empty of type %s", listed, group, tt.typ)
			}

			deleted, err := adm.DeleteGroups(ctx, group)
			if err != nil || deleted[group].Err != nil {
				t.Fatalf("DeleteGroups of the Empty group = %+v, %v; want success", deleted, err)
			}
			st, _, err := describe()
			switch {
			case tt.kip848 && !errors.Is(err, kerr.GroupIDNotFound):
				t.Fatalf("ConsumerGroupDescribe of the deleted group: %q, %v; want GROUP_ID_NOT_FOUND", st, err)
			case !tt.kip848 && (err != nil || st != "Dead"):
				t.Fatalf("DescribeGroups of the deleted group: %q, %v; want Dead", st, err)
			}
			if deleted, err := adm.DeleteGroups(ctx, group); err != nil || !errors.Is(deleted[group].Err, kerr.GroupIDNotFound) {
				t.Fatalf("second DeleteGroups = %+v, %v; want GROUP_ID_NOT_FOUND", deleted, err)
			}
		})
	}
}
