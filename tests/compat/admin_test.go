package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminTimeout bounds every administrative round trip of the test helpers.
const adminTimeout = 30 * time.Second

// newClient returns a franz-go client bootstrapped only from addr (127.0.0.1:port),
// closed by t.Cleanup. It keeps franz-go's defaults, so its producers are idempotent
// (InitProducerId, then sequenced batches with acks=all) as users get them out of the box.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID("kafscale-compat"),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("cannot create franz-go client for %s: %v", addr, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic name with the given partition count (replication factor 1)
// through a CreateTopics request and waits until Metadata shows a leader for every
// partition. kadm would do, but it is a module go.mod does not hold.
func createTopic(t *testing.T, addr, name string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cl := newClient(t, addr)

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(adminTimeout / time.Millisecond)
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions = partitions
	rt.ReplicationFactor = 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("cannot create topic %s: %v", name, err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("cannot create topic %s: response has %d topics", name, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("cannot create topic %s: %v", name, err)
	}
	if err := waitForTopic(ctx, cl, name, partitions); err != nil {
		t.Fatal(err)
	}
}

// waitForTopic polls Metadata until topic has the given partitions, each with a leader.
func waitForTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = topicReady(ctx, cl, topic, partitions)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot see topic %s with %d led partitions: %w (last: %v)", topic, partitions, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func topicReady(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("metadata has %d topics", len(resp.Topics))
	}
	mt := resp.Topics[0]
	if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
		return err
	}
	if int32(len(mt.Partitions)) != partitions {
		return fmt.Errorf("metadata has %d partitions", len(mt.Partitions))
	}
	for _, p := range mt.Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, err)
		}
		if p.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p.Partition)
		}
	}
	return nil
}

// topicName returns a topic name unique to this run, so that tests sharing a broker would
// never see each other's data.
func topicName(suffix string) string {
	return fmt.Sprintf("compat-%s-%d", suffix, time.Now().UnixNano())
}
