package api

import (
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// clusterBrokers returns the brokers Metadata v12 lists, and the response.
func clusterBrokers(t *testing.T, c *conn) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	return c.do(req).(*kmsg.MetadataResponse)
}

func brokerAddr(br kmsg.MetadataResponseBroker) string {
	return net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port)))
}

// TestDescribeCluster asks each broker of a two-broker cluster, at every version, for the
// cluster: it must list every live broker with its advertised listener, the controller and
// the cluster id as Metadata does, EndpointType 1 (brokers) and the schema's
// ClusterAuthorizedOperations (-2147483648) unless asked for, then every cluster operation
// (no authorizer), as Kafka 4.4 answers.
func TestDescribeCluster(t *testing.T) {
	b := testbroker.StartDevCluster(t, 2)
	t.Cleanup(func() { checkNoBug(t, b, 0) })
	ctx := testContext(t)
	md := clusterBrokers(t, dial(ctx, t, b.Addr))
	if len(md.Brokers) != 2 || md.ClusterID == nil {
		t.Fatalf("Metadata lists %d brokers, cluster id %v", len(md.Brokers), md.ClusterID)
	}
	for _, br := range md.Brokers {
		for v := int16(0); v <= 2; v++ {
			t.Run(fmt.Sprintf("broker %d v%d", br.NodeID, v), func(t *testing.T) {
				c := dial(ctx, t, brokerAddr(br))
				req := kmsg.NewPtrDescribeClusterRequest()
				req.Version = v
				resp := c.do(req).(*kmsg.DescribeClusterResponse)
				wantCode(t, "DescribeCluster", resp.ErrorCode, nil)
				if resp.ClusterID != *md.ClusterID || resp.ControllerID != md.ControllerID {
					t.Errorf("cluster id %q controller %d, Metadata %q %d", resp.ClusterID, resp.ControllerID, *md.ClusterID, md.ControllerID)
				}
				if !slices.ContainsFunc(resp.Brokers, func(x kmsg.DescribeClusterResponseBroker) bool { return x.NodeID == resp.ControllerID }) {
					t.Errorf("controller %d is not among the brokers listed", resp.ControllerID)
				}
				if resp.ClusterAuthorizedOperations != math.MinInt32 {
					t.Errorf("ClusterAuthorizedOperations %d unasked, want %d", resp.ClusterAuthorizedOperations, math.MinInt32)
				}
				if v >= 1 && resp.EndpointType != 1 {
					t.Errorf("EndpointType %d, want 1 (brokers)", resp.EndpointType)
				}
				got := make(map[int32]string)
				for _, x := range resp.Brokers {
					if x.Rack != nil || x.IsFenced {
						t.Errorf("broker %d rack %v fenced %t, want no rack, not fenced", x.NodeID, x.Rack, x.IsFenced)
					}
					got[x.NodeID] = net.JoinHostPort(x.Host, strconv.Itoa(int(x.Port)))
				}
				for _, want := range md.Brokers {
					if got[want.NodeID] != brokerAddr(want) {
						t.Errorf("broker %d listed at %q, Metadata %q", want.NodeID, got[want.NodeID], brokerAddr(want))
					}
				}
				if len(got) != len(md.Brokers) {
					t.Errorf("%d brokers listed, Metadata %d", len(got), len(md.Brokers))
				}
			})
		}
	}

	t.Run("authorized operations when asked", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = 2
		req.IncludeClusterAuthorizedOperations = true
		resp := c.do(req).(*kmsg.DescribeClusterResponse)
		// ALTER, ALTER_CONFIGS, CLUSTER_ACTION, CREATE, DESCRIBE, DESCRIBE_CONFIGS,
		// IDEMPOTENT_WRITE: Kafka 4.4 without an authorizer answers 8096.
		if resp.ClusterAuthorizedOperations != 8096 {
			t.Fatalf("ClusterAuthorizedOperations %d, want 8096", resp.ClusterAuthorizedOperations)
		}
	})

	for _, tc := range []struct {
		endpoint int8
		want     *kerr.Error
	}{
		{2, kerr.MismatchedEndpointType},
		{7, kerr.UnsupportedEndpointType},
	} {
		t.Run(fmt.Sprintf("endpoint type %d is %s", tc.endpoint, tc.want.Message), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			for _, v := range []int16{1, 2} {
				req := kmsg.NewPtrDescribeClusterRequest()
				req.Version = v
				req.EndpointType = tc.endpoint
				resp := c.do(req).(*kmsg.DescribeClusterResponse)
				wantCode(t, fmt.Sprintf("DescribeCluster v%d", v), resp.ErrorCode, tc.want)
				if resp.ErrorMessage == nil || len(resp.Brokers) != 0 || resp.ControllerID != -1 {
					t.Fatalf("DescribeCluster v%d error answer has message %v, %d brokers, controller %d", v, resp.ErrorMessage, len(resp.Brokers), resp.ControllerID)
				}
			}
		})
	}

	// Partitions spread over both brokers: DescribeTopicPartitions names the leader
	// Metadata names, from either broker, and DescribeLogDirs of each broker lists exactly
	// the partitions it leads.
	t.Run("partitions over both brokers", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 6, nil)
		mt := metadataTopic(t, c, name)
		leaders := make(map[int32]int32)
		for _, p := range mt.Partitions {
			leaders[p.Partition] = p.Leader
		}
		if n := len(slices.Compact(slices.Sorted(maps.Values(leaders)))); n != 2 {
			t.Fatalf("6 partitions led by %d brokers (%v), want both", n, leaders)
		}
		for _, br := range md.Brokers {
			bc := dial(ctx, t, brokerAddr(br))
			dt := describeTopicPartitions(t, bc, 0, nil, name)
			if len(dt.Topics) != 1 || len(dt.Topics[0].Partitions) != 6 {
				t.Fatalf("broker %d: DescribeTopicPartitions answers %+v", br.NodeID, dt.Topics)
			}
			for _, p := range dt.Topics[0].Partitions {
				if p.LeaderID != leaders[p.Partition] || !slices.Equal(p.Replicas, []int32{p.LeaderID}) || !slices.Equal(p.ISR, []int32{p.LeaderID}) {
					t.Errorf("broker %d: partition %d leader %d replicas %v isr %v; Metadata's leader %d", br.NodeID, p.Partition, p.LeaderID, p.Replicas, p.ISR, leaders[p.Partition])
				}
			}
			var led []int32
			for _, d := range describeLogDirs(t, bc, 5, nil).Dirs {
				for _, dt := range d.Topics {
					if dt.Topic != name {
						continue
					}
					for _, p := range dt.Partitions {
						led = append(led, p.Partition)
					}
				}
			}
			var want []int32
			for p, l := range leaders {
				if l == br.NodeID {
					want = append(want, p)
				}
			}
			slices.Sort(led)
			slices.Sort(want)
			if !slices.Equal(led, want) {
				t.Errorf("broker %d: DescribeLogDirs lists partitions %v, it leads %v", br.NodeID, led, want)
			}
		}
	})
}
