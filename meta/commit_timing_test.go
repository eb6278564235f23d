package meta

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"
)

// benchSink keeps results alive so the compiler cannot drop the work.
var benchSink int

// BenchmarkCommitObject measures one fenced commit round trip to the
// in-process etcd (fsync off): the per-flush metadata cost.
func BenchmarkCommitObject(b *testing.B) {
	s := New(testClient, Config{Prefix: "/bench/commit"}, nil)
	ctx := context.Background()
	reg, err := s.Register(ctx, 1, "127.0.0.1", 9092, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = reg.Close(context.Background()) })
	e := entry("flush/1/01J0000000000000000000000")
	b.SetBytes(int64(proto.Size(e)))
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		if _, err := s.CommitObject(ctx, reg, reg.FenceRev, seq, e); err != nil {
			b.Fatal(err)
		}
		seq++
	}
	benchSink += int(seq)
}
