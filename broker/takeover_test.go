package broker

import (
	"slices"
	"testing"

	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
)

// TestEpochsOf pins the leader-epoch history a takeover starts from, in particular for a
// checkpoint written before the history existed: starting it at the log start instead of
// the next offset would tell every consumer positioned past the log start by an older
// epoch that its log was truncated, and make it reset.
func TestEpochsOf(t *testing.T) {
	tests := []struct {
		name string
		cp   *metapb.Checkpoint
		want []partition.EpochStart
	}{
		{
			name: "checkpoint without a history starts it at its next offset",
			cp:   &metapb.Checkpoint{LeaderEpoch: 4, LogStart: 10, NextOffset: 250},
			want: []partition.EpochStart{{Epoch: 4, StartOffset: 250}},
		},
		{
			name: "checkpoint with a history",
			cp: &metapb.Checkpoint{LeaderEpoch: 4, LogStart: 10, NextOffset: 250,
				Epochs: []*metapb.EpochStart{{LeaderEpoch: 1, StartOffset: 10}, {LeaderEpoch: 4, StartOffset: 200}}},
			want: []partition.EpochStart{{Epoch: 1, StartOffset: 10}, {Epoch: 4, StartOffset: 200}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := epochsOf(tt.cp); !slices.Equal(got, tt.want) {
				t.Errorf("epochsOf(%v) = %v, want %v", tt.cp, got, tt.want)
			}
		})
	}
}
