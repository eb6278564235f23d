package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// describeLogDirs sends DescribeLogDirs at version for topics (nil: all partitions).
func describeLogDirs(t *testing.T, c *conn, version int16, topics map[string][]int32) *kmsg.DescribeLogDirsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Version = version
	if topics != nil {
		req.Topics = []kmsg.DescribeLogDirsRequestTopic{}
		for name, ps := range topics {
			rt := kmsg.NewDescribeLogDirsRequestTopic()
			rt.Topic, rt.Partitions = name, ps
			req.Topics = append(req.Topics, rt)
		}
	}
	return c.do(req).(*kmsg.DescribeLogDirsResponse)
}

// logDirSizes returns the one directory's name and its partition sizes by "topic/p".
func logDirSizes(t *testing.T, resp *kmsg.DescribeLogDirsResponse) (string, map[string]int64) {
	t.Helper()
	wantCode(t, "DescribeLogDirs", resp.ErrorCode, nil)
	if len(resp.Dirs) != 1 {
		t.Fatalf("DescribeLogDirs lists %d directories, want one per broker", len(resp.Dirs))
	}
	d := resp.Dirs[0]
	wantCode(t, "log dir "+d.Dir, d.ErrorCode, nil)
	sizes := make(map[string]int64)
	for _, dt := range d.Topics {
		if len(dt.Partitions) == 0 {
			t.Errorf("topic %s listed without partitions", dt.Topic)
		}
		for _, p := range dt.Partitions {
			if p.OffsetLag != 0 || p.IsFuture {
				t.Errorf("%s/%d offset lag %d future %t, want 0 and false", dt.Topic, p.Partition, p.OffsetLag, p.IsFuture)
			}
			sizes[fmt.Sprintf("%s/%d", dt.Topic, p.Partition)] = p.Size
		}
	}
	return d.Dir, sizes
}

// TestDescribeLogDirs checks kafka-log-dirs' request: one directory named after the object
// store, each partition this broker leads with the bytes its index records as stored,
// -1 for the volume sizes (v4+), and the topic filter.
func TestDescribeLogDirs(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	name := topicName(t)
	createTopic(t, c, name, 2, nil)
	var stored int64
	for i := range 3 {
		batch := batchOf(5+i, 100)
		produceOK(t, c, name, 0, batch)
		stored += int64(len(batch))
	}
	p0, p1 := name+"/0", name+"/1"

	for v := int16(1); v <= 5; v++ {
		t.Run(fmt.Sprintf("v%d sizes of every partition", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			var dir string
			var sizes map[string]int64
			// Produce answers once the batches are committed; the index is updated then.
			kafkatest.WaitUntil(t, 10*time.Second, "partition 0's size equal to the bytes produced", func() error {
				resp := describeLogDirs(t, c, v, nil)
				dir, sizes = logDirSizes(t, resp)
				if v >= 4 && (resp.Dirs[0].TotalBytes != -1 || resp.Dirs[0].UsableBytes != -1) {
					t.Fatalf("TotalBytes %d UsableBytes %d, want -1 (unknown)", resp.Dirs[0].TotalBytes, resp.Dirs[0].UsableBytes)
				}
				if sizes[p0] != stored {
					return fmt.Errorf("partition 0 size %d, produced %d bytes", sizes[p0], stored)
				}
				return nil
			})
			if !strings.HasPrefix(dir, "file:///") || !strings.HasSuffix(dir, "/objects") {
				t.Errorf("log dir %q, want the local object store's file:// URL", dir)
			}
			if size, ok := sizes[p1]; !ok || size != 0 {
				t.Errorf("partition 1 (empty) size %d listed %t, want 0 and listed", size, ok)
			}
		})
	}

	t.Run("topic filter", func(t *testing.T) {
		_, sizes := logDirSizes(t, describeLogDirs(t, c, 5, map[string][]int32{name: {1, 7}, topicName(t): {0}}))
		if len(sizes) != 1 || sizes[p1] != 0 {
			t.Fatalf("filter on %s/1, /7 and an unknown topic answers %v, want %s only", name, sizes, p1)
		}
		// An empty (not null) topic list asks for no partition.
		_, sizes = logDirSizes(t, describeLogDirs(t, c, 5, map[string][]int32{}))
		if len(sizes) != 0 {
			t.Fatalf("an empty topic list answers %v, want no partitions", sizes)
		}
	})
}
