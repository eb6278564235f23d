package meta

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

func TestPutCheckpointsRoundTripsInBatchesOfAtMost100(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	top := createTopic(t, s, "t", 250, 1)
	id := [16]byte(top.Id)
	cps := map[PartitionKey]*metapb.Checkpoint{}
	for p := range int32(250) {
		cps[PartitionKey{id, p}] = &metapb.Checkpoint{
			LeaderEpoch: 1, LogStart: int64(p), NextOffset: int64(p) * 10,
			Chains:        []*metapb.Chain{{BrokerId: 1, Incarnation: reg.Incarnation, FirstSeq: uint64(p), LeaderEpoch: 1}},
			ProducerState: []byte{byte(p)},
		}
	}
	kv := countKV(s)
	if err := s.PutCheckpoints(ctx, 1, reg.FenceRev, cps); err != nil {
		t.Fatal(err)
	}
	txns := kv.reset()
	if len(txns) != 3 {
		t.Fatalf("%d transactions, want 3", len(txns))
	}
	for i, tx := range txns {
		if tx.Cmps > 100 || tx.Thens > 100 || tx.Elses > 100 {
			t.Fatalf("txn %d = %+v: more than 100 puts", i, tx)
		}
	}
	for _, p := range []int32{0, 99, 100, 249} {
		got, err := s.GetCheckpoint(ctx, id, p)
		if err != nil || !proto.Equal(got, cps[PartitionKey{id, p}]) {
			t.Fatalf("partition %d: %v, %v", p, got, err)
		}
	}
	all, err := s.ListCheckpoints(ctx, id)
	if err != nil || len(all) != 250 || !proto.Equal(all[123], cps[PartitionKey{id, 123}]) {
		t.Fatalf("ListCheckpoints: %d, %v", len(all), err)
	}
}

func TestGetCheckpointOfEmptyPartitionIsNil(t *testing.T) {
	s := newTestStore(t)
	cp, err := s.GetCheckpoint(testCtx(t), testTopicID, 0)
	if cp != nil || err != nil {
		t.Fatalf("got %v, %v; want nil, nil", cp, err)
	}
}

func TestPutCheckpointsFencedWritesNothing(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	if _, _, err := s.BumpEpochs(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cps := map[PartitionKey]*metapb.Checkpoint{{testTopicID, 0}: {NextOffset: 1}}
	if err := s.PutCheckpoints(ctx, 1, reg.FenceRev, cps); !errors.Is(err, ErrFenced) {
		t.Fatalf("got %v, want ErrFenced", err)
	}
	if cp, _ := s.GetCheckpoint(ctx, testTopicID, 0); cp != nil {
		t.Fatalf("fenced put wrote %v", cp)
	}
}
