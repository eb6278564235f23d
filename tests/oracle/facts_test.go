package oracle

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// facts returns what the comparison looks at in a response, one line per fact: error codes
// per topic, partition, resource or group, and the fields a client acts on. Node ids are
// written as "self" when they name the answering server, since Kafka's node is 1 and
// kafscale's is 0; error messages, throttle times and ids the servers pick (topic ids,
// producer ids) are left out or reduced to "set"/"unset".
func facts(s *server, resp kmsg.Response) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	node := func(id int32) string {
		switch id {
		case s.nodeID:
			return "self"
		case -1:
			return "-1"
		}
		return fmt.Sprintf("other(%d)", id)
	}
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for i, rt := range r.Topics {
			add("topic[%d] %s partitions=%d rf=%d topicID=%s", i, errName(rt.ErrorCode), rt.NumPartitions, rt.ReplicationFactor, uuidSet(rt.TopicID))
		}
	case *kmsg.DeleteTopicsResponse:
		for i, rt := range r.Topics {
			add("topic[%d] name=%s %s", i, strPtr(rt.Topic), errName(rt.ErrorCode))
		}
	case *kmsg.MetadataResponse:
		add("brokers=%d controller=%s", len(r.Brokers), node(r.ControllerID))
		for _, rt := range r.Topics {
			add("topic %s %s internal=%v topicID=%s partitions=%d", strPtr(rt.Topic), errName(rt.ErrorCode), rt.IsInternal, uuidSet(rt.TopicID), len(rt.Partitions))
			for _, rp := range rt.Partitions {
				add("  partition %d %s leader=%s replicas=%d isr=%d", rp.Partition, errName(rp.ErrorCode), node(rp.Leader), len(rp.Replicas), len(rp.ISR))
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				add("%s/%d %s offset=%d timestamp=%d leaderEpoch=%d", rt.Topic, rp.Partition, errName(rp.ErrorCode), rp.Offset, rp.Timestamp, rp.LeaderEpoch)
			}
		}
	case *kmsg.FetchResponse:
		add("fetch %s", errName(r.ErrorCode))
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				add("%s/%d %s highWatermark=%d lastStable=%d logStart=%d recordBytes=%d", rt.Topic, rp.Partition, errName(rp.ErrorCode), rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset, len(rp.RecordBatches))
			}
		}
	case *kmsg.ProduceResponse:
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				add("%s/%d %s baseOffset=%d logAppendTime=%d logStart=%d", rt.Topic, rp.Partition, errName(rp.ErrorCode), rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset)
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for _, rr := range r.Resources {
			name := strconv.Quote(rr.ResourceName)
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker && rr.ResourceName == strconv.Itoa(int(s.nodeID)) {
				name = "self"
			}
			add("resource %s %s %s configs=%d", rr.ResourceType, name, errName(rr.ErrorCode), len(rr.Configs))
			for _, c := range rr.Configs {
				add("  %s=%s readOnly=%v source=%s sensitive=%v", c.Name, strPtr(c.Value), c.ReadOnly, c.Source, c.IsSensitive)
			}
		}
	case *kmsg.OffsetFetchResponse:
		for _, rg := range r.Groups {
			add("group %s %s topics=%d", rg.Group, errName(rg.ErrorCode), len(rg.Topics))
			for _, rt := range rg.Topics {
				for _, rp := range rt.Partitions {
					add("  %s/%d %s offset=%d leaderEpoch=%d metadata=%s", rt.Topic, rp.Partition, errName(rp.ErrorCode), rp.Offset, rp.LeaderEpoch, strPtr(rp.Metadata))
				}
			}
		}
	case *kmsg.DescribeGroupsResponse:
		for _, rg := range r.Groups {
			add("group %s %s state=%q protocolType=%q protocol=%q members=%d", rg.Group, errName(rg.ErrorCode), rg.State, rg.ProtocolType, rg.Protocol, len(rg.Members))
		}
	case *kmsg.FindCoordinatorResponse:
		for _, rc := range r.Coordinators {
			add("key %q %s node=%s", rc.Key, errName(rc.ErrorCode), node(rc.NodeID))
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, rr := range r.Resources {
			name := strconv.Quote(rr.ResourceName)
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker && rr.ResourceName == strconv.Itoa(int(s.nodeID)) {
				name = "self"
			}
			add("resource %s %s %s", rr.ResourceType, name, errName(rr.ErrorCode))
		}
	case *kmsg.AlterConfigsResponse:
		for _, rr := range r.Resources {
			add("resource %s %q %s", rr.ResourceType, rr.ResourceName, errName(rr.ErrorCode))
		}
	case *kmsg.DeleteRecordsResponse:
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				add("%s/%d %s lowWatermark=%d", rt.Topic, rp.Partition, errName(rp.ErrorCode), rp.LowWatermark)
			}
		}
	case *kmsg.InitProducerIDResponse:
		add("%s producerID=%s epoch=%d", errName(r.ErrorCode), set(r.ProducerID >= 0), r.ProducerEpoch)
	case *kmsg.JoinGroupResponse:
		add("%s generation=%d", errName(r.ErrorCode), r.Generation)
	case *kmsg.OffsetCommitResponse:
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				add("%s/%d %s", rt.Topic, rp.Partition, errName(rp.ErrorCode))
			}
		}
	case *kmsg.DeleteGroupsResponse:
		for _, rg := range r.Groups {
			add("group %s %s", rg.Group, errName(rg.ErrorCode))
		}
	case *kmsg.CreatePartitionsResponse:
		for _, rt := range r.Topics {
			add("topic %s %s", rt.Topic, errName(rt.ErrorCode))
		}
	case *kmsg.DescribeACLsResponse:
		add("%s resources=%d", errName(r.ErrorCode), len(r.Resources))
	case *kmsg.CreateACLsResponse:
		for i, rr := range r.Results {
			add("creation[%d] %s", i, errName(rr.ErrorCode))
		}
	case *kmsg.DeleteACLsResponse:
		for i, rr := range r.Results {
			add("filter[%d] %s matching=%d", i, errName(rr.ErrorCode), len(rr.MatchingACLs))
		}
	case *kmsg.DescribeClusterResponse:
		add("%s brokers=%d controller=%s clusterAuthorizedOperations=%d", errName(r.ErrorCode), len(r.Brokers), node(r.ControllerID), r.ClusterAuthorizedOperations)
	default:
		panic(fmt.Sprintf("BUG: facts of %T", resp))
	}
	return out
}

func strPtr(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

func uuidSet(id [16]byte) string { return set(id != [16]byte{}) }

func set(ok bool) string {
	if ok {
		return "set"
	}
	return "unset"
}
