package cluster

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestCreateTopicWhileABrokerIsPaused: CreateTopics places partitions on a broker stopped
// with SIGSTOP (still registered until its lease ends); when the lease ends the controller
// moves them to the broker serving the request, which must take them over while the
// request still waits for every partition's leader. It answered REQUEST_TIMED_OUT after
// its whole timeout instead, the moved partitions left unserved until then (seen in
// tests/operator under a loaded CI).
func TestCreateTopicWhileABrokerIsPaused(t *testing.T) {
	const topic, partitions = "created-while-paused", 8
	c := startCluster(t, 2)
	var v view
	kafkatest.WaitUntil(t, 15*time.Second, "both brokers to list both brokers", func() error {
		var err error
		v, err = c.agreed("", 0)
		return err
	})
	ctl := v.controller
	other := 1 - ctl
	proc := c.brokers[other]
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c.paused[other] = true
	t.Cleanup(func() { _ = proc.Signal(syscall.SIGCONT) })

	const timeout = 60 * time.Second
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	began := time.Now()
	r, err := c.requestCtx(ctx, ctl, req)
	if err != nil {
		t.Fatalf("CreateTopics through broker %d: %v", ctl, err)
	}
	took := time.Since(began)
	resp := r.(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics answered %d topics", len(resp.Topics))
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		msg := ""
		if m := resp.Topics[0].ErrorMessage; m != nil {
			msg = *m
		}
		t.Fatalf("CreateTopics through broker %d answered %v after %s: %s", ctl, kerr.ErrorForCode(code), took.Round(time.Millisecond), msg)
	}
	t.Logf("CreateTopics answered after %s (session lease %s)", took.Round(time.Millisecond), sessionTTL)
	kafkatest.WaitUntil(t, 10*time.Second, "the live broker to lead every partition", func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
}
