package admin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// ClusterBroker is one live broker and what it leads.
type ClusterBroker struct {
	ID         int32  `json:"id"`
	Host       string `json:"host"`
	Port       int32  `json:"port"`
	Rack       string `json:"rack,omitempty"`
	Controller bool   `json:"controller"`
	// Partitions counts the partitions it leads.
	Partitions int `json:"partitions"`
}

// ClusterDescription is what `kafscale cluster describe` shows.
type ClusterDescription struct {
	ClusterID  string          `json:"cluster_id"`
	Controller int32           `json:"controller"`
	Brokers    []ClusterBroker `json:"brokers"`
	Topics     int             `json:"topics"`
	Partitions int             `json:"partitions"`
	// Leaderless counts partitions without a live leader (a failover under way).
	Leaderless int `json:"leaderless"`
}

// DescribeCluster lists the live brokers, the controller, and how many partitions each
// broker leads, from one Metadata request of every topic.
func (c *Client) DescribeCluster(ctx context.Context) (ClusterDescription, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return ClusterDescription{}, fmt.Errorf("cannot read cluster metadata: %w", err)
	}
	d := ClusterDescription{ClusterID: md.Cluster, Controller: md.Controller, Topics: len(md.Topics)}
	led := make(map[int32]int)
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			d.Partitions++
			if p.Leader < 0 {
				d.Leaderless++
				continue
			}
			led[p.Leader]++
		}
	}
	for _, b := range md.Brokers {
		cb := ClusterBroker{ID: b.NodeID, Host: b.Host, Port: b.Port, Controller: b.NodeID == md.Controller, Partitions: led[b.NodeID]}
		if b.Rack != nil {
			cb.Rack = *b.Rack
		}
		d.Brokers = append(d.Brokers, cb)
	}
	slices.SortFunc(d.Brokers, func(a, b ClusterBroker) int { return cmp.Compare(a.ID, b.ID) })
	return d, nil
}
