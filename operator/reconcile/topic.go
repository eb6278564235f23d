package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// TopicFinalizer keeps a KafscaleTopic until its Kafka topic is deleted (or retained, as
// its deletionPolicy says).
const TopicFinalizer = "kafscale.io/topic"

// topicResync is how often a topic in step is compared with the cluster again, to undo
// changes made around the operator (kafka-configs, kafscale topics alter-config).
const topicResync = 5 * time.Minute

// kafkaTimeout bounds the Kafka requests of one reconcile.
const kafkaTimeout = 15 * time.Second

// Topic reconciles a KafscaleTopic through the Kafka protocol (franz-go's kadm): it
// creates the topic, adds partitions, sets and resets configs, and deletes the topic
// before the resource goes.
type Topic struct {
	Client    client.Client
	Addresses Addresses
	// Events records the topic's Events (events.go); SetupWithManager sets the
	// manager's when nil.
	Events events.EventRecorder
}

// SetupWithManager registers the reconciler.
func (r *Topic) SetupWithManager(mgr ctrl.Manager) error {
	r.Events = eventRecorder(r.Events, mgr)
	return ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.KafscaleTopic{}).Complete(r)
}

// Reconcile brings one topic to its spec.
func (r *Topic) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var t v1alpha1.KafscaleTopic
	if err := r.Client.Get(ctx, req.NamespacedName, &t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var c v1alpha1.KafscaleCluster
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.ClusterRef}, &c)
	clusterGone := apierrors.IsNotFound(err) || (err == nil && c.DeletionTimestamp != nil)
	if err != nil && !clusterGone {
		return ctrl.Result{}, fmt.Errorf("cannot read KafscaleCluster %s/%s: %w", t.Namespace, t.Spec.ClusterRef, err)
	}

	if t.DeletionTimestamp != nil {
		return ctrl.Result{}, r.finalize(ctx, &t, &c, clusterGone)
	}
	if controllerutil.AddFinalizer(&t, TopicFinalizer) {
		if err := r.Client.Update(ctx, &t); err != nil {
			return ctrl.Result{}, fmt.Errorf("cannot add the finalizer to KafscaleTopic %s: %w", req.NamespacedName, err)
		}
	}
	if clusterGone {
		msg := fmt.Sprintf("KafscaleCluster %q does not exist in namespace %s", t.Spec.ClusterRef, t.Namespace)
		setCondition(&t.Status.Conditions, t.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, "ClusterNotFound", msg)
		return ctrl.Result{RequeueAfter: 30 * time.Second}, r.updateStatus(ctx, &t)
	}

	err = r.sync(ctx, &t, &c)
	if err != nil {
		setCondition(&t.Status.Conditions, t.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reasonKafkaError, err.Error())
		setCondition(&t.Status.Conditions, t.Generation, v1alpha1.ConditionDegraded, metav1.ConditionTrue, reasonKafkaError, err.Error())
		r.Events.Eventf(&t, nil, corev1.EventTypeWarning, reasonKafkaError, "Sync", "%v", err)
	} else {
		t.Status.ObservedGeneration = t.Generation
		setCondition(&t.Status.Conditions, t.Generation, v1alpha1.ConditionReady, metav1.ConditionTrue, "InSync",
			fmt.Sprintf("topic %s has %d partitions and the configs of the spec", t.KafkaName(), t.Status.Partitions))
		setCondition(&t.Status.Conditions, t.Generation, v1alpha1.ConditionDegraded, metav1.ConditionFalse, "InSync", "the topic is as specified")
	}
	if serr := r.updateStatus(ctx, &t); serr != nil && err == nil {
		return ctrl.Result{}, serr
	}
	if err != nil {
		return ctrl.Result{}, err // retried with backoff
	}
	return ctrl.Result{RequeueAfter: topicResync}, nil
}

func (r *Topic) updateStatus(ctx context.Context, t *v1alpha1.KafscaleTopic) error {
	if err := r.Client.Status().Update(ctx, t); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("cannot update the status of KafscaleTopic %s/%s: %w", t.Namespace, t.Name, err)
	}
	return nil
}

// admin returns a Kafka admin client for the cluster; the caller closes it.
func (r *Topic) admin(c *v1alpha1.KafscaleCluster) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.Addresses.Bootstrap(c)...), kgo.DialTimeout(5*time.Second),
		kgo.RetryTimeout(kafkaTimeout))
	if err != nil {
		return nil, fmt.Errorf("cannot create a Kafka client for %v: %w", r.Addresses.Bootstrap(c), err)
	}
	return kadm.NewClient(cl), nil
}

// sync creates the topic or brings its partitions and configs to the spec, and records
// what it found in the status.
func (r *Topic) sync(ctx context.Context, t *v1alpha1.KafscaleTopic, c *v1alpha1.KafscaleCluster) error {
	adm, err := r.admin(c)
	if err != nil {
		return err
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	name := t.KafkaName()
	details, err := adm.ListTopics(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot list topic %s: %w", name, err)
	}
	d, ok := details[name]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		configs := map[string]*string{}
		for k, v := range t.Spec.Configs {
			configs[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, t.Spec.Partitions, -1, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("cannot create topic %s with %d partitions: %w", name, t.Spec.Partitions, describe(err, resp.ErrMessage))
		}
		log.FromContext(ctx).Info("topic created", "topic", name, "partitions", t.Spec.Partitions)
		r.Events.Eventf(t, nil, corev1.EventTypeNormal, reasonTopicCreated, "Create", "topic %s created with %d partitions", name, t.Spec.Partitions)
		topicChangesTotal.WithLabelValues("created").Inc()
		t.Status.TopicID = resp.ID.String()
		t.Status.Partitions = t.Spec.Partitions
		t.Status.ManagedConfigs = slices.Sorted(maps.Keys(t.Spec.Configs))
		return nil
	}
	if d.Err != nil {
		return fmt.Errorf("cannot read topic %s: %w", name, d.Err)
	}
	t.Status.TopicID = d.ID.String()
	have := int32(len(d.Partitions))
	switch {
	case have < t.Spec.Partitions:
		resp, err := adm.UpdatePartitions(ctx, int(t.Spec.Partitions), name)
		if err == nil {
			var one kadm.CreatePartitionsResponse
			one, err = resp.On(name, nil)
			if err == nil {
				err = describe(one.Err, one.ErrMessage)
			}
		}
		if err != nil {
			return fmt.Errorf("cannot add partitions to topic %s (%d to %d): %w", name, have, t.Spec.Partitions, err)
		}
		log.FromContext(ctx).Info("partitions added", "topic", name, "from", have, "to", t.Spec.Partitions)
		r.Events.Eventf(t, nil, corev1.EventTypeNormal, reasonPartitionsAdded, "CreatePartitions", "topic %s grown from %d to %d partitions", name, have, t.Spec.Partitions)
		topicChangesTotal.WithLabelValues("partitions_added").Inc()
		have = t.Spec.Partitions
	case have > t.Spec.Partitions:
		t.Status.Partitions = have
		return fmt.Errorf("topic %s has %d partitions, more than the spec's %d: Kafka cannot remove partitions", name, have, t.Spec.Partitions)
	}
	t.Status.Partitions = have
	return r.syncConfigs(ctx, adm, t)
}

// syncConfigs sets the spec's configs that differ and deletes (resets to the default)
// those the operator set before and the spec no longer has, in one
// IncrementalAlterConfigs.
func (r *Topic) syncConfigs(ctx context.Context, adm *kadm.Client, t *v1alpha1.KafscaleTopic) error {
	name := t.KafkaName()
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe the configs of topic %s: %w", name, err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = describe(rc.Err, rc.ErrMessage)
	}
	if err != nil {
		return fmt.Errorf("cannot describe the configs of topic %s: %w", name, err)
	}
	current := map[string]kadm.Config{}
	for _, cfg := range rc.Configs {
		current[cfg.Key] = cfg
	}
	var alters []kadm.AlterConfig
	for _, k := range slices.Sorted(maps.Keys(t.Spec.Configs)) {
		v := t.Spec.Configs[k]
		if cur, ok := current[k]; ok && cur.Source == kmsg.ConfigSourceDynamicTopicConfig && cur.MaybeValue() == v {
			continue
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range t.Status.ManagedConfigs {
		if _, kept := t.Spec.Configs[k]; kept {
			continue
		}
		if cur, ok := current[k]; ok && cur.Source == kmsg.ConfigSourceDynamicTopicConfig {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
	}
	if len(alters) > 0 {
		resps, err := adm.AlterTopicConfigs(ctx, alters, name)
		if err == nil {
			var one kadm.AlterConfigsResponse
			one, err = resps.On(name, nil)
			if err == nil {
				err = describe(one.Err, one.ErrMessage)
			}
		}
		if err != nil {
			return fmt.Errorf("cannot alter the configs of topic %s: %w", name, err)
		}
		log.FromContext(ctx).Info("topic configs altered", "topic", name, "changes", len(alters))
		r.Events.Eventf(t, nil, corev1.EventTypeNormal, reasonConfigsAltered, "AlterConfigs", "%d configs of topic %s set or reset to match the spec", len(alters), name)
		topicChangesTotal.WithLabelValues("configs_altered").Inc()
	}
	t.Status.ManagedConfigs = slices.Sorted(maps.Keys(t.Spec.Configs))
	return nil
}

// finalize deletes the Kafka topic (unless retained, or its cluster is gone) and then
// removes the finalizer.
func (r *Topic) finalize(ctx context.Context, t *v1alpha1.KafscaleTopic, c *v1alpha1.KafscaleCluster, clusterGone bool) error {
	if !controllerutil.ContainsFinalizer(t, TopicFinalizer) {
		return nil
	}
	if t.Spec.DeletionPolicy != "Retain" && !clusterGone {
		adm, err := r.admin(c)
		if err != nil {
			return err
		}
		defer adm.Close()
		dctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
		defer cancel()
		resp, err := adm.DeleteTopic(dctx, t.KafkaName())
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			err = fmt.Errorf("cannot delete topic %s: %w", t.KafkaName(), describe(err, resp.ErrMessage))
			setCondition(&t.Status.Conditions, t.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reasonDeleteFailed, err.Error())
			r.Events.Eventf(t, nil, corev1.EventTypeWarning, reasonDeleteFailed, "Delete", "%v", err)
			_ = r.updateStatus(ctx, t)
			return err
		}
		log.FromContext(ctx).Info("topic deleted", "topic", t.KafkaName())
		r.Events.Eventf(t, nil, corev1.EventTypeNormal, reasonTopicDeleted, "Delete", "topic %s deleted", t.KafkaName())
		topicChangesTotal.WithLabelValues("deleted").Inc()
	}
	controllerutil.RemoveFinalizer(t, TopicFinalizer)
	if err := r.Client.Update(ctx, t); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cannot remove the finalizer of KafscaleTopic %s/%s: %w", t.Namespace, t.Name, err)
	}
	return nil
}

// describe adds a Kafka error's message to its error.
func describe(err error, msg string) error {
	if err == nil || msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}
