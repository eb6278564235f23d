package broker

// DescribeLogDirs: versions 1-5 (Kafka 4.4's range; kafka-log-dirs --describe). A Kafka
// broker lists each of its log directories with the partitions it holds there; KafScale
// keeps a partition's data in the object store, so each broker answers one directory named
// after that store (its URL: s3://bucket/prefix, or file:///dir for `kafscale dev`; every
// broker of a cluster names the same one) with the partitions THIS broker leads, the
// others' being in their answers. A partition's size is what the leader's index records of
// its stored bytes: the merged segments' chunks and the flush extents not merged yet
// (partition.Log.StoredBytes), as Kafka sums its segment files. Offset lag is 0 (the leader's
// log end is its high watermark once batches commit) and no log is a future one. The
// volume's TotalBytes and UsableBytes (v4+) are -1, the schema's "unknown": an object store
// has no capacity to report. Topics may be null (all partitions) or name partitions; those
// this broker does not lead are left out, and a topic with none is not listed, as Kafka does.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/objstore"
)

func init() { register(kmsg.DescribeLogDirs, 1, 5, (*Broker).handleDescribeLogDirs) }

func (b *Broker) handleDescribeLogDirs(c *call) {
	req := c.kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !c.may(acl.Cluster, acl.ClusterName) {
		// As Kafka: no directory, and the error from v3 (older versions have no field).
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.logDir()
	var want map[string][]int32 // nil: every partition
	if req.Topics != nil {
		want = make(map[string][]int32, len(req.Topics))
		for _, rt := range req.Topics {
			want[rt.Topic] = append(want[rt.Topic], rt.Partitions...)
		}
	}
	b.mu.RLock()
	for name, t := range b.topics {
		ps, named := want[name]
		if want != nil && !named {
			continue
		}
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = name
		for p, st := range t.parts {
			if st == nil || !st.log.Leader() || (want != nil && !slices.Contains(ps, int32(p))) {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = int32(p)
			dp.Size = st.log.StoredBytes()
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(dir.Topics, func(x, y kmsg.DescribeLogDirsResponseDirTopic) int {
		return cmp.Compare(x.Topic, y.Topic)
	})
	resp.Dirs = append(resp.Dirs, dir)
	c.respond(resp)
}

// logDir names the log directory DescribeLogDirs lists: the object store's location.
func (b *Broker) logDir() string {
	if loc := objstore.Location(b.store); loc != "" {
		return loc
	}
	return "kafscale-object-store"
}
