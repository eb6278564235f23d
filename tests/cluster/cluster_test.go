// Package cluster tests several `kafscale broker` processes sharing one etcd server and one
// MinIO bucket (internal/testinfra), as issue 12 and DESIGN.md "Cluster" describe them:
// membership and the controller seen through Metadata, partitions placed over the brokers,
// NOT_LEADER_OR_FOLLOWER from a broker that does not lead a partition, and failover after
// kill -9 under acks=all load, checked with the ackcheck ledger. Every test bounds its own
// duration.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/meta"
)

// sessionTTL is the brokers' etcd lease, the default one, so that the failover measured is
// a user's: a killed broker's partitions move once it ends.
var sessionTTL = meta.DefaultConfig().SessionTTL

// requestTimeout bounds one request the test sends to one broker.
const requestTimeout = 5 * time.Second

// cluster is brokers 0..n-1 on one etcd server and one MinIO bucket. Its methods are for
// the test goroutine.
type cluster struct {
	t       *testing.T
	etcd    *testinfra.Etcd
	minio   *testinfra.MinIO
	brokers []*testbroker.Broker // brokers[i] runs with broker id i
	direct  []*kgo.Client        // direct[i] sends requests to brokers[i] and nowhere else
	paused  map[int32]bool       // brokers stopped with SIGSTOP: running, but not live
	args    []string             // extra flags of every broker added
}

// startCluster starts n brokers, one after the other, each ready before the next starts,
// each with the extra flags args.
func startCluster(t *testing.T, n int, args ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, etcd: testinfra.StartEtcd(t), minio: testinfra.StartMinIO(t), paused: map[int32]bool{}, args: args}
	for range n {
		c.addBroker(c.etcd.Endpoints())
	}
	return c
}

// addBroker starts the next broker (id len(c.brokers)) on the given etcd endpoints and
// waits until it is ready.
func (c *cluster) addBroker(etcdEndpoints []string) *testbroker.Broker {
	t := c.t
	t.Helper()
	id := len(c.brokers)
	s3 := testbroker.S3{Endpoint: c.minio.Endpoint, Region: c.minio.Region, Bucket: c.minio.Bucket,
		AccessKey: c.minio.AccessKey, SecretKey: c.minio.SecretKey}
	b := testbroker.StartBroker(t, etcdEndpoints, s3, append([]string{
		"--broker-id", strconv.Itoa(id),
		// Small, frequent flush objects and short S3 attempts keep acks=all quick.
		"--flush-interval", "20ms", "--s3-request-timeout", "3s"}, c.args...)...)
	c.brokers = append(c.brokers, b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DialTimeout(time.Second))
	if err != nil {
		t.Fatalf("cannot create a client for broker %d at %s: %v", id, b.Addr, err)
	}
	t.Cleanup(cl.Close)
	c.direct = append(c.direct, cl)
	keepLog(t, b, id)
	return b
}

// keepLog writes the whole log of broker id into $KAFSCALE_TEST_LOG_DIR if the test fails
// (the failure itself shows only its tail).
func keepLog(t *testing.T, b *testbroker.Broker, id int) {
	dir := os.Getenv("KAFSCALE_TEST_LOG_DIR")
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		if t.Failed() {
			path := filepath.Join(dir, fmt.Sprintf("%s.broker%d.log", strings.ReplaceAll(t.Name(), "/", "_"), id))
			_ = os.WriteFile(path, []byte(b.LogTail(1<<30)), 0o644)
			t.Logf("broker %d log written to %s", id, path)
		}
	})
}

// addrs returns the listeners of the running brokers, to bootstrap clients from.
func (c *cluster) addrs() []string {
	var out []string
	for _, b := range c.brokers {
		if b.Running() {
			out = append(out, b.Addr)
		}
	}
	return out
}

// live returns the ids of the running brokers, but those paused.
func (c *cluster) live() []int32 {
	var out []int32
	for id, b := range c.brokers {
		if b.Running() && !c.paused[int32(id)] {
			out = append(out, int32(id))
		}
	}
	return out
}

// request sends req to broker id alone and returns its answer.
func (c *cluster) request(id int32, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.requestCtx(ctx, id, req)
}

// requestCtx sends req to broker id alone, bounded by ctx, and returns its answer.
func (c *cluster) requestCtx(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	resp, err := c.direct[id].SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("broker %d: %w", id, err)
	}
	return resp, nil
}

// leader is a partition's leader and leader epoch as one broker's Metadata gives them.
type leader struct{ id, epoch int32 }

// view is what one broker's Metadata says about the cluster and one topic.
type view struct {
	brokers    map[int32]string // broker id to advertised host:port
	controller int32
	topicID    [16]byte
	leaders    []leader // by partition
}

// describe asks broker id for Metadata of topic and checks that the topic is there with
// its partitions partitions, each without error. With topic "" it asks for no topic.
func (c *cluster) describe(id int32, topic string, partitions int32) (view, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none, not nil (all)
	if topic != "" {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = false
	r, err := c.request(id, req)
	if err != nil {
		return view{}, fmt.Errorf("cannot ask broker %d for metadata: %w", id, err)
	}
	resp := r.(*kmsg.MetadataResponse)
	v := view{brokers: map[int32]string{}, controller: resp.ControllerID}
	for _, b := range resp.Brokers {
		v.brokers[b.NodeID] = fmt.Sprintf("%s:%d", b.Host, b.Port)
	}
	if topic == "" {
		return v, nil
	}
	if len(resp.Topics) != 1 {
		return v, fmt.Errorf("broker %d: Metadata of %s holds %d topics, want 1", id, topic, len(resp.Topics))
	}
	mt := resp.Topics[0]
	if mt.ErrorCode != 0 {
		return v, fmt.Errorf("broker %d: Metadata of %s: %v", id, topic, kerr.ErrorForCode(mt.ErrorCode))
	}
	v.topicID = mt.TopicID
	if int32(len(mt.Partitions)) != partitions {
		return v, fmt.Errorf("broker %d: Metadata of %s lists %d partitions, want %d", id, topic, len(mt.Partitions), partitions)
	}
	v.leaders = make([]leader, partitions)
	seen := make([]bool, partitions)
	for _, p := range mt.Partitions {
		if p.Partition < 0 || p.Partition >= partitions || seen[p.Partition] {
			return v, fmt.Errorf("broker %d: Metadata of %s lists partition %d twice or out of range", id, topic, p.Partition)
		}
		seen[p.Partition] = true
		if p.ErrorCode != 0 {
			return v, fmt.Errorf("broker %d: Metadata of %s[%d]: %v (leader %d)", id, topic, p.Partition, kerr.ErrorForCode(p.ErrorCode), p.Leader)
		}
		v.leaders[p.Partition] = leader{p.Leader, p.LeaderEpoch}
	}
	return v, nil
}

// checkBrokers checks that v lists exactly the brokers ids, each at its listener.
func (c *cluster) checkBrokers(from int32, v view, ids []int32) error {
	want := map[int32]string{}
	for _, id := range ids {
		want[id] = c.brokers[id].Addr
	}
	if !maps.Equal(v.brokers, want) {
		return fmt.Errorf("broker %d lists brokers %v, want %v", from, v.brokers, want)
	}
	return nil
}

// agreed asks every live broker for Metadata of topic and checks that each lists exactly
// the live brokers and that all agree on the controller, on a live controller, and on each
// partition's leader (a live broker) and leader epoch. It returns the view of the first
// broker that answered and every problem found, joined.
func (c *cluster) agreed(topic string, partitions int32) (view, error) {
	live := c.live()
	var first view
	firstID := int32(-1) // the broker first answered, which the others are compared with
	var errs []error
	for _, id := range live {
		v, err := c.describe(id, topic, partitions)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.checkBrokers(id, v, live); err != nil {
			errs = append(errs, err)
		}
		if !slices.Contains(live, v.controller) {
			errs = append(errs, fmt.Errorf("broker %d names controller %d, not a live broker %v", id, v.controller, live))
		}
		var unled []string
		for p, l := range v.leaders {
			if !slices.Contains(live, l.id) {
				unled = append(unled, fmt.Sprintf("[%d] led by %d epoch %d", p, l.id, l.epoch))
			}
		}
		if len(unled) > 0 {
			errs = append(errs, fmt.Errorf("broker %d: partitions of %s not led by a live broker %v: %s", id, topic, live, strings.Join(unled, ", ")))
		}
		if firstID < 0 {
			first, firstID = v, id
			continue
		}
		if v.controller != first.controller {
			errs = append(errs, fmt.Errorf("broker %d names controller %d, broker %d names %d", id, v.controller, firstID, first.controller))
		}
		if v.topicID != first.topicID {
			errs = append(errs, fmt.Errorf("broker %d gives %s topic id %x, broker %d gives %x", id, topic, v.topicID, firstID, first.topicID))
		}
		for p := range min(len(v.leaders), len(first.leaders)) {
			if v.leaders[p] != first.leaders[p] {
				errs = append(errs, fmt.Errorf("%s[%d]: broker %d says leader %d epoch %d, broker %d says leader %d epoch %d",
					topic, p, id, v.leaders[p].id, v.leaders[p].epoch, firstID, first.leaders[p].id, first.leaders[p].epoch))
			}
		}
	}
	return first, errors.Join(errs...)
}

// produceOne sends one batch holding value to topic[p] on broker id with acks=all, and
// returns the partition's error code and base offset.
func (c *cluster) produceOne(id int32, topic string, topicID [16]byte, p int32, value []byte) (int16, int64, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, int32(requestTimeout/time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, kafkatest.RecordBatch(value)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.request(id, req)
	if err != nil {
		return 0, 0, err
	}
	resp := r.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, 0, fmt.Errorf("broker %d: Produce to %s[%d] answered %d topics, want 1 with 1 partition", id, topic, p, len(resp.Topics))
	}
	rp2 := resp.Topics[0].Partitions[0]
	return rp2.ErrorCode, rp2.BaseOffset, nil
}
