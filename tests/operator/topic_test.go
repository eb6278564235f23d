package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testkube"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// TestTopicThroughTheKafkaProtocol guards acceptance 2's topics: a KafscaleTopic is
// created in the cluster with its partitions and configs, grows partitions, sets and
// resets configs as its spec changes, reports its status, and is deleted from the
// cluster before the resource goes (the finalizer); a topic of a cluster that does not
// exist says so in its status.
func TestTopicThroughTheKafkaProtocol(t *testing.T) {
	b := startBrokers(t, 1)
	api := testkube.Start(t)
	testkube.StartOperator(t, api, b)
	ctx := context.Background()
	ns := "topics"
	newNamespace(t, api, ns)
	replicas := int32(1)
	c := &v1alpha1.KafscaleCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kafka"},
		Spec: v1alpha1.KafscaleClusterSpec{
			Brokers: v1alpha1.BrokersSpec{Replicas: &replicas, Image: "kafscale:test"},
			Storage: v1alpha1.StorageSpec{Bucket: "kafscale"},
			Etcd:    v1alpha1.EtcdSpec{Endpoints: b.etcd.Endpoints()}}}
	if err := api.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	topic := &v1alpha1.KafscaleTopic{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"},
		Spec: v1alpha1.KafscaleTopicSpec{ClusterRef: "kafka", TopicName: "shop.orders", Partitions: 3,
			Configs: map[string]string{"retention.ms": "3600000", "max.message.bytes": "200000"}}}
	if err := api.Client.Create(ctx, topic); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.get(0).Addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	check := func(what string, partitions int, configs map[string]string) {
		t.Helper()
		kafkatest.WaitUntil(t, wait, what, func() error {
			if err := api.Client.Get(ctx, client.ObjectKeyFromObject(topic), topic); err != nil {
				return err
			}
			if err := readyCondition(topic.Status.Conditions); err != nil {
				return err
			}
			if topic.Status.ObservedGeneration != topic.Generation || topic.Status.Partitions != int32(partitions) || topic.Status.TopicID == "" {
				return fmt.Errorf("status %+v at generation %d", topic.Status, topic.Generation)
			}
			return kafkaTopic(ctx, adm, "shop.orders", partitions, configs)
		})
	}
	check("the topic to be created", 3, map[string]string{"retention.ms": "3600000", "max.message.bytes": "200000"})
	if !containsFinalizer(topic) {
		t.Errorf("finalizers %v, want %s", topic.Finalizers, "kafscale.io/topic")
	}

	patch := client.MergeFrom(topic.DeepCopy())
	topic.Spec.Partitions = 5
	topic.Spec.Configs = map[string]string{"retention.ms": "7200000", "cleanup.policy": "compact"}
	if err := api.Client.Patch(ctx, topic, patch); err != nil {
		t.Fatal(err)
	}
	// max.message.bytes went from the spec: back to its default (no longer a topic config).
	check("partitions added and configs altered", 5, map[string]string{"retention.ms": "7200000", "cleanup.policy": "compact", "max.message.bytes": ""})
	// What `kubectl describe kafscaletopic` shows of it.
	for _, reason := range []string{"TopicCreated", "PartitionsAdded", "ConfigsAltered"} {
		api.WaitEvent(t, topic, "KafscaleTopic", corev1.EventTypeNormal, reason, wait)
	}

	// A topic of a cluster that does not exist.
	lost := &v1alpha1.KafscaleTopic{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lost"},
		Spec: v1alpha1.KafscaleTopicSpec{ClusterRef: "nope", Partitions: 1}}
	if err := api.Client.Create(ctx, lost); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "ClusterNotFound in the status", func() error {
		if err := api.Client.Get(ctx, client.ObjectKeyFromObject(lost), lost); err != nil {
			return err
		}
		if err := readyCondition(lost.Status.Conditions); err == nil || len(lost.Status.Conditions) == 0 || lost.Status.Conditions[0].Reason != "ClusterNotFound" {
			return fmt.Errorf("conditions %+v", lost.Status.Conditions)
		}
		return nil
	})

	// A config the cluster refuses: the topic is not created, and the status says why.
	bad := &v1alpha1.KafscaleTopic{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
		Spec: v1alpha1.KafscaleTopicSpec{ClusterRef: "kafka", Partitions: 1, Configs: map[string]string{"retention.ms": "forever"}}}
	if err := api.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the refused config in the status", func() error {
		if err := api.Client.Get(ctx, client.ObjectKeyFromObject(bad), bad); err != nil {
			return err
		}
		r := meta.FindStatusCondition(bad.Status.Conditions, v1alpha1.ConditionReady)
		if r == nil || r.Status != metav1.ConditionFalse || r.Reason != "KafkaError" || !strings.Contains(r.Message, "INVALID_CONFIG") {
			return fmt.Errorf("conditions %+v", bad.Status.Conditions)
		}
		return nil
	})
	t.Logf("refused: %s", meta.FindStatusCondition(bad.Status.Conditions, v1alpha1.ConditionReady).Message)
	if e := api.WaitEvent(t, bad, "KafscaleTopic", corev1.EventTypeWarning, "KafkaError", wait); !strings.Contains(e.Note, "INVALID_CONFIG") {
		t.Errorf("KafkaError event: %q", e.Note)
	}

	// Deleting the resource deletes the topic first.
	if err := api.Client.Delete(ctx, topic); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the resource and the topic to be gone", func() error {
		err := api.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "orders"}, topic)
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("resource still there (%v)", err)
		}
		details, err := adm.ListTopics(ctx, "shop.orders")
		if err != nil {
			return err
		}
		if details.Has("shop.orders") && details["shop.orders"].Err == nil {
			return errors.New("topic shop.orders still in the cluster")
		}
		return nil
	})
	if err := api.Client.Delete(ctx, lost); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "a topic of no cluster to be deletable", func() error {
		if err := api.Client.Get(ctx, client.ObjectKeyFromObject(lost), lost); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

func containsFinalizer(t *v1alpha1.KafscaleTopic) bool {
	for _, f := range t.Finalizers {
		if f == "kafscale.io/topic" {
			return true
		}
	}
	return false
}

// kafkaTopic checks a topic's partitions and its dynamic topic configs as the cluster
// answers them; an empty want value means the config must not be set on the topic.
func kafkaTopic(ctx context.Context, adm *kadm.Client, name string, partitions int, want map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	details, err := adm.ListTopics(ctx, name)
	if err != nil {
		return err
	}
	d, ok := details[name]
	if !ok || d.Err != nil {
		return fmt.Errorf("topic %s: %v", name, d.Err)
	}
	if len(d.Partitions) != partitions {
		return fmt.Errorf("topic %s has %d partitions, want %d", name, len(d.Partitions), partitions)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return err
	}
	rc, err := rcs.On(name, nil)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			got[c.Key] = c.MaybeValue()
		}
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("topic %s config %s = %q, want %q (topic configs %v)", name, k, got[k], v, got)
		}
	}
	return nil
}
