package operator

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testkube"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// TestScaleDownDrainsUnderLoad guards acceptance 3 and the drain path of acceptance 4:
// three brokers under acks=all load from a plain and an idempotent producer; the cluster
// is scaled from 3 to 2. The operator must keep the StatefulSet at 3 until broker 2's own
// Status shows it leads no partition and no coordinator slot (it asks BrokerControl Drain
// for that), and only then scale to 2, after which the test stops broker 2 as the
// StatefulSet controller would. No record fails, none acknowledged is lost, none is stored
// twice by the idempotent producer. Scaled back to 3, the new broker 2 gets partitions.
func TestScaleDownDrainsUnderLoad(t *testing.T) {
	b := startBrokers(t, 3)
	api := testkube.Start(t)
	testkube.StartOperator(t, api, b)
	ctx := context.Background()
	ns := "drain"
	newNamespace(t, api, ns)
	replicas := int32(3)
	c := &v1alpha1.KafscaleCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kafka"},
		Spec: v1alpha1.KafscaleClusterSpec{
			Brokers: v1alpha1.BrokersSpec{Replicas: &replicas, Image: "kafscale:test",
				DrainTimeout: &metav1.Duration{Duration: 2 * time.Minute}},
			Storage: v1alpha1.StorageSpec{Bucket: "kafscale"},
			Etcd:    v1alpha1.EtcdSpec{Endpoints: b.etcd.Endpoints()}}}
	if err := api.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	const partitions = 12
	topic := &v1alpha1.KafscaleTopic{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "load"},
		Spec: v1alpha1.KafscaleTopicSpec{ClusterRef: "kafka", Partitions: partitions}}
	if err := api.Client.Create(ctx, topic); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the topic to be Ready", func() error {
		if err := api.Client.Get(ctx, client.ObjectKeyFromObject(topic), topic); err != nil {
			return err
		}
		return readyCondition(topic.Status.Conditions)
	})
	kafkatest.WaitUntil(t, wait, "broker 2 to lead partitions", func() error {
		st, err := b.status(2)
		if err != nil {
			return err
		}
		if st.PartitionsLed == 0 || len(st.LiveBrokers) != 3 {
			return fmt.Errorf("broker 2: %v", st)
		}
		return nil
	})

	seeds := b.Bootstrap(nil)
	o := kafkatest.LoadOpts{Inflight: 100, Rate: 400, Prefix: "plain"}
	plain := kafkatest.StartLoader(t, seeds, "load", partitions, o)
	o.Prefix, o.Idempotent = "idem", true
	idem := kafkatest.StartLoader(t, seeds, "load", partitions, o)
	plain.WaitAcks(t, 300, wait)
	idem.WaitAcks(t, 300, wait)

	// Scale to 2. Until the StatefulSet says 2, broker 2 keeps running; once it does,
	// broker 2 must lead nothing.
	start := time.Now()
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Brokers.Replicas = new(int32(2))
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the StatefulSet to be scaled to 2", func() error {
		n, err := stsReplicas(api, ns, "kafka")
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("replicas %d", n)
		}
		return nil
	})
	scaled := time.Since(start)
	st, err := b.status(2)
	if err != nil {
		t.Fatalf("broker 2 (still running) does not answer Status: %v", err)
	}
	if st.PartitionsLed != 0 || st.CoordinatorSlots != 0 || !st.Draining {
		t.Fatalf("the StatefulSet was scaled to 2 while broker 2 still leads: %v", st)
	}
	t.Logf("DRAIN: scale-down from 3 to 2 under load: StatefulSet scaled %s after the spec changed, broker 2 drained", scaled.Round(time.Millisecond))
	// The StatefulSet controller deletes pod kafka-2: SIGTERM.
	b.get(2).Term(30 * time.Second)
	plain.WaitAcks(t, plain.Ledger.Len()+300, wait)
	idem.WaitAcks(t, idem.Ledger.Len()+300, wait)
	if err := api.Client.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
		t.Fatal(err)
	}
	if c.Status.Drain != nil {
		t.Errorf("the drain is still in the status after the scale-down: %+v", c.Status.Drain)
	}

	// Back to 3: the StatefulSet first, then pod kafka-2 starts again and gets partitions.
	patch = client.MergeFrom(c.DeepCopy())
	c.Spec.Brokers.Replicas = new(int32(3))
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the StatefulSet to be scaled to 3", func() error {
		n, err := stsReplicas(api, ns, "kafka")
		if err != nil {
			return err
		}
		if n != 3 {
			return fmt.Errorf("replicas %d", n)
		}
		return nil
	})
	b.get(2).Restart()
	b.get(2).WaitReady(wait)
	kafkatest.WaitUntil(t, wait, "the new broker 2 to get partitions", func() error {
		st, err := b.status(2)
		if err != nil {
			return err
		}
		if st.PartitionsLed == 0 || st.Draining {
			return fmt.Errorf("broker 2: %v", st)
		}
		return nil
	})
	plain.WaitAcks(t, plain.Ledger.Len()+300, wait)
	idem.WaitAcks(t, idem.Ledger.Len()+300, wait)

	plain.Finish(t)
	idem.Finish(t)
	for name, l := range map[string]*kafkatest.Loader{"plain": plain, "idempotent": idem} {
		if n := l.Failed(); n > 0 {
			t.Errorf("the %s producer (1000 retries) failed %d records: %v", name, n, l.Errors())
		}
	}
	read := kafkatest.ReadAll(t, b.get(0).Addr, "load", partitions)
	for name, l := range map[string]*ackcheck.Ledger{"plain": plain.Ledger, "idempotent": idem.Ledger} {
		if err := l.Verify(read); err != nil {
			t.Errorf("%s producer: %v", name, err)
		}
	}
	var once []ackcheck.Record
	for _, r := range read {
		if bytes.HasPrefix(r.Value, []byte("idem-")) {
			once = append(once, r)
		}
	}
	kafkatest.RequireExactlyOnce(t, once)
	t.Logf("%d plain and %d idempotent records acknowledged, all read back", plain.Ledger.Len(), idem.Ledger.Len())
}
