package reconcile

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
	"github.com/kafscale/kafscale/operator/objects"
)

// FieldOwner is the operator's name in server-side apply's managed fields.
const FieldOwner = "kafscale-operator"

// Cluster reconciles a KafscaleCluster: it applies the objects of operator/objects (owned
// by the cluster, so deleting it deletes them), scales the broker StatefulSet, draining
// brokers before a scale-down removes them, and reports what it sees in the status.
type Cluster struct {
	Client    client.Client
	Scheme    *runtime.Scheme
	Addresses Addresses
	// DrainCallTimeout bounds one Drain call; a drain that takes longer is asked again at
	// the next reconcile, until the cluster's drainTimeout.
	DrainCallTimeout time.Duration
	// Events records the cluster's Events (events.go); SetupWithManager sets the
	// manager's when nil.
	Events events.EventRecorder
}

// SetupWithManager registers the reconciler, watching the objects it owns.
func (r *Cluster) SetupWithManager(mgr ctrl.Manager) error {
	r.Events = eventRecorder(r.Events, mgr)
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.KafscaleCluster{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		Complete(r)
}

// Reconcile brings one cluster's objects to its spec.
func (r *Cluster) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c v1alpha1.KafscaleCluster
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if c.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // the garbage collector deletes what the cluster owns
	}
	res, err := r.reconcile(ctx, &c)
	if err != nil {
		setCondition(&c.Status.Conditions, c.Generation, v1alpha1.ConditionDegraded, metav1.ConditionTrue, reasonReconcileFailed, err.Error())
		setCondition(&c.Status.Conditions, c.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reasonReconcileFailed, err.Error())
		r.Events.Eventf(&c, nil, corev1.EventTypeWarning, reasonReconcileFailed, "Reconcile", "%v", err)
	}
	if serr := r.Client.Status().Update(ctx, &c); serr != nil && err == nil {
		if apierrors.IsConflict(serr) {
			// Someone changed the cluster meanwhile; the change brings another reconcile.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, fmt.Errorf("cannot update the status of KafscaleCluster %s: %w", req.NamespacedName, serr)
	}
	return res, err
}

func (r *Cluster) reconcile(ctx context.Context, c *v1alpha1.KafscaleCluster) (ctrl.Result, error) {
	owned := []client.Object{objects.HeadlessService(c), objects.BootstrapService(c), objects.PodDisruptionBudget(c)}
	if c.Spec.Etcd.Managed {
		owned = append(owned, objects.EtcdService(c), objects.EtcdStatefulSet(c))
	}
	for _, o := range owned {
		if err := r.apply(ctx, c, o); err != nil {
			return ctrl.Result{}, err
		}
	}
	if hpa := objects.HorizontalPodAutoscaler(c); hpa != nil {
		if err := r.apply(ctx, c, hpa); err != nil {
			return ctrl.Result{}, err
		}
	} else if err := r.deleteIfOwned(ctx, c, &autoscalingv2.HorizontalPodAutoscaler{}, objects.BrokersName(c)); err != nil {
		return ctrl.Result{}, err
	}

	var sts appsv1.StatefulSet
	key := types.NamespacedName{Namespace: c.Namespace, Name: objects.BrokersName(c)}
	exists := true
	if err := r.Client.Get(ctx, key, &sts); apierrors.IsNotFound(err) {
		exists = false
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("cannot read StatefulSet %s: %w", key, err)
	}
	desired := objects.Replicas(c)
	replicas := desired
	var res ctrl.Result
	if exists && sts.Spec.Replicas != nil && *sts.Spec.Replicas > desired {
		var err error
		replicas, res, err = r.scaleDown(ctx, c, *sts.Spec.Replicas, desired)
		if err != nil {
			return ctrl.Result{}, err
		}
	} else if c.Status.Drain != nil {
		r.abandonDrain(ctx, c, desired)
	}
	want := objects.BrokerStatefulSet(c, replicas)
	if err := r.apply(ctx, c, want); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Client.Get(ctx, key, &sts); err != nil {
		return ctrl.Result{}, fmt.Errorf("cannot read StatefulSet %s: %w", key, err)
	}
	r.observe(c, &sts, want.Spec.Template.Annotations[objects.ConfigHashAnnotation])
	return res, nil
}

// apply server-side applies obj as the operator, owned by the cluster.
func (r *Cluster) apply(ctx context.Context, c *v1alpha1.KafscaleCluster, obj client.Object) error {
	if err := controllerutil.SetControllerReference(c, obj, r.Scheme); err != nil {
		return fmt.Errorf("BUG: cannot set the owner of %s: %w", obj.GetName(), err)
	}
	gvk, err := apiutil.GVKForObject(obj, r.Scheme)
	if err != nil {
		return fmt.Errorf("BUG: %T is not in the scheme: %w", obj, err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("BUG: cannot convert %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	// Fields the operator does not set must not be claimed, or it would fight the
	// controllers that own them.
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("cannot apply %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// deleteIfOwned deletes the named object if the cluster owns it (an HPA left after
// autoscaling was turned off).
func (r *Cluster) deleteIfOwned(ctx context.Context, c *v1alpha1.KafscaleCluster, obj client.Object, name string) error {
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read %s/%s: %w", c.Namespace, name, err)
	}
	if !metav1.IsControlledBy(obj, c) {
		return nil
	}
	if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cannot delete %s/%s: %w", c.Namespace, name, err)
	}
	return nil
}

// observe fills the status from the broker StatefulSet.
func (r *Cluster) observe(c *v1alpha1.KafscaleCluster, sts *appsv1.StatefulSet, hash string) {
	desired := objects.Replicas(c)
	st := &c.Status
	st.ObservedGeneration = c.Generation
	st.Replicas = sts.Status.Replicas
	st.ReadyReplicas = sts.Status.ReadyReplicas
	st.Brokers = fmt.Sprintf("%d/%d", st.ReadyReplicas, desired)
	st.Selector = metav1.FormatLabelSelector(sts.Spec.Selector)
	st.Bootstrap = objects.Bootstrap(c)
	st.ConfigHash = hash
	rolledOut := sts.Status.ObservedGeneration >= sts.Generation && sts.Status.UpdatedReplicas == desired &&
		sts.Status.CurrentRevision == sts.Status.UpdateRevision
	switch {
	case st.Drain != nil:
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionProgressing, metav1.ConditionTrue, "Draining",
			fmt.Sprintf("draining brokers %d..%d before scaling from %d to %d; still leading partitions: %v",
				st.Drain.To, st.Drain.From-1, st.Drain.From, st.Drain.To, st.Drain.Remaining))
	case st.Replicas != desired || !rolledOut:
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionProgressing, metav1.ConditionTrue, "RollingOut",
			fmt.Sprintf("%d of %d brokers updated", sts.Status.UpdatedReplicas, desired))
	default:
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionProgressing, metav1.ConditionFalse, "Stable", "every broker runs the current spec")
	}
	if st.ReadyReplicas == desired && st.Replicas == desired {
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionReady, metav1.ConditionTrue, "BrokersReady", fmt.Sprintf("%d brokers ready", desired))
	} else {
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, "BrokersNotReady",
			fmt.Sprintf("%d of %d brokers ready", st.ReadyReplicas, desired))
	}
	// A drain timeout stays reported until the next successful scale-down or the spec changes.
	if d := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDegraded); d == nil ||
		d.Reason != "DrainTimedOut" || d.ObservedGeneration != c.Generation {
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AsSpecified", "the cluster runs as specified")
	}
}

// setCondition sets one condition, keeping its transition time when its status is unchanged.
func setCondition(conds *[]metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
}
