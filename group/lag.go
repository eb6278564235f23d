package group

import (
	"context"
	"fmt"

	"github.com/kafscale/kafscale/meta"
)

// GroupOffsets are one group's committed offsets.
type GroupOffsets struct {
	Group   string
	Offsets []meta.GroupOffset
}

// CommittedOffsets returns the committed offsets of every group this broker coordinates
// that has any, for the lag export (grouplag): one store read per group.
func (c *Coordinator) CommittedOffsets(ctx context.Context) ([]GroupOffsets, error) {
	names, err := c.store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list groups: %w", err)
	}
	var out []GroupOffsets
	for _, name := range names {
		if !c.owns(name) {
			continue // another broker coordinates it, and exports its lag
		}
		offs, err := c.store.FetchOffsets(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("cannot read offsets of group %s: %w", name, err)
		}
		if len(offs) > 0 {
			out = append(out, GroupOffsets{Group: name, Offsets: offs})
		}
	}
	return out, nil
}
