package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testkube"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
	"github.com/kafscale/kafscale/operator/objects"
)

// nowhere resolves every broker to a closed port: the tests of this file run no broker.
type nowhere struct{}

func (nowhere) Admin(*v1alpha1.KafscaleCluster, int32) string { return "127.0.0.1:1" }
func (nowhere) Bootstrap(*v1alpha1.KafscaleCluster) []string  { return []string{"127.0.0.1:1"} }

// wait bounds every wait for the operator: it reconciles within milliseconds, but the
// machine is shared.
const wait = 30 * time.Second

func newCluster(ns, name string, replicas int32) *v1alpha1.KafscaleCluster {
	return &v1alpha1.KafscaleCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.KafscaleClusterSpec{
			Brokers: v1alpha1.BrokersSpec{Replicas: &replicas, Image: "kafscale/kafscale:test"},
			Storage: v1alpha1.StorageSpec{Bucket: "kafscale", Endpoint: "http://minio:9000", CredentialsSecret: "s3"},
			Etcd:    v1alpha1.EtcdSpec{Endpoints: []string{"http://etcd:2379"}},
		},
	}
}

func namespace(t *testing.T, api *testkube.API, name string) string {
	t.Helper()
	if err := api.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

func get[T client.Object](t *testing.T, api *testkube.API, ns, name string, obj T) error {
	t.Helper()
	return api.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, obj)
}

func env(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

// TestClusterMakesItsObjects guards acceptance 2: a KafscaleCluster yields the broker
// StatefulSet (ids from ordinals, the advertised listener per pod, the settings of the
// spec, a config hash), the headless and bootstrap Services, a PodDisruptionBudget and an
// HPA on the cluster's scale subresource, all owned by the cluster; a changed setting
// changes the config hash; the status follows the StatefulSet's.
func TestClusterMakesItsObjects(t *testing.T) {
	api := testkube.Start(t)
	testkube.StartOperator(t, api, nowhere{})
	ctx := context.Background()
	ns := namespace(t, api, "objects")
	c := newCluster(ns, "kafka", 3)
	c.Spec.Config.FlushInterval = "50ms"
	c.Spec.Brokers.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: 3, MaxReplicas: 6, TargetCPUUtilization: new(int32(60))}
	if err := api.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}

	var sts appsv1.StatefulSet
	kafkatest.WaitUntil(t, wait, "the broker StatefulSet", func() error { return get(t, api, ns, "kafka", &sts) })
	if *sts.Spec.Replicas != 3 || sts.Spec.ServiceName != "kafka-brokers" {
		t.Errorf("StatefulSet: replicas %d, serviceName %q", *sts.Spec.Replicas, sts.Spec.ServiceName)
	}
	broker := sts.Spec.Template.Spec.Containers[0]
	e := env(broker)
	for k, want := range map[string]string{
		"KAFSCALE_BROKER_ID":           "$(POD_NAME)",
		"KAFSCALE_ADVERTISED_LISTENER": "$(POD_NAME).kafka-brokers.objects.svc:9092",
		"KAFSCALE_ETCD_ENDPOINTS":      "http://etcd:2379",
		"KAFSCALE_ETCD_PREFIX":         "/kafscale/objects/kafka",
		"KAFSCALE_S3_BUCKET":           "kafscale",
		"KAFSCALE_S3_ENDPOINT":         "http://minio:9000",
		"KAFSCALE_S3_PATH_STYLE":       "true",
		"KAFSCALE_FLUSH_INTERVAL":      "50ms",
		"KAFSCALE_LOG_FORMAT":          "json",
	} {
		if e[k] != want {
			t.Errorf("broker env %s = %q, want %q", k, e[k], want)
		}
	}
	hash := sts.Spec.Template.Annotations[objects.ConfigHashAnnotation]
	if hash == "" {
		t.Error("the pod template has no config hash")
	}
	owned := []client.Object{&sts}
	for _, o := range []struct {
		name string
		obj  client.Object
	}{{"kafka-brokers", &corev1.Service{}}, {"kafka-bootstrap", &corev1.Service{}}, {"kafka", &policyv1.PodDisruptionBudget{}}, {"kafka", &autoscalingv2.HorizontalPodAutoscaler{}}} {
		kafkatest.WaitUntil(t, wait, fmt.Sprintf("%T %s", o.obj, o.name), func() error { return get(t, api, ns, o.name, o.obj) })
		owned = append(owned, o.obj)
	}
	for _, o := range owned {
		ref := metav1.GetControllerOf(o)
		if ref == nil || ref.Kind != "KafscaleCluster" || ref.Name != "kafka" || ref.UID != c.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("%T %s: controller reference %+v, want the cluster (deleting it deletes them)", o, o.GetName(), ref)
		}
	}
	var headless corev1.Service
	_ = get(t, api, ns, "kafka-brokers", &headless)
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("headless Service: clusterIP %q, publishNotReadyAddresses %v", headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	var hpa autoscalingv2.HorizontalPodAutoscaler
	_ = get(t, api, ns, "kafka", &hpa)
	if hpa.Spec.ScaleTargetRef.Kind != "KafscaleCluster" || hpa.Spec.MaxReplicas != 6 || *hpa.Spec.MinReplicas != 3 ||
		*hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 {
		t.Errorf("HPA spec %+v", hpa.Spec)
	}

	// Status: no kubelet runs here, so the test plays the StatefulSet controller.
	kafkatest.WaitUntil(t, wait, "the cluster's status", func() error {
		if err := get(t, api, ns, "kafka", c); err != nil {
			return err
		}
		if c.Status.Brokers != "0/3" || c.Status.Bootstrap != "kafka-bootstrap.objects.svc:9092" || c.Status.Selector == "" ||
			!meta.IsStatusConditionFalse(c.Status.Conditions, v1alpha1.ConditionReady) {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})
	setReady(t, api, ns, "kafka", 3)
	kafkatest.WaitUntil(t, wait, "the cluster to be Ready", func() error {
		if err := get(t, api, ns, "kafka", c); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady) || c.Status.Brokers != "3/3" {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})

	// A new setting rolls the brokers: the config hash changes.
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Config.FlushInterval = "80ms"
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "a new config hash", func() error {
		if err := get(t, api, ns, "kafka", &sts); err != nil {
			return err
		}
		if h := sts.Spec.Template.Annotations[objects.ConfigHashAnnotation]; h == hash {
			return errors.New("the config hash did not change")
		}
		return nil
	})

	// A second cluster with its own managed etcd: three members, and brokers pointed at them.
	m := newCluster(ns, "managed", 1)
	m.Spec.Etcd = v1alpha1.EtcdSpec{Managed: true}
	if err := api.Client.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	var etcd appsv1.StatefulSet
	kafkatest.WaitUntil(t, wait, "the managed etcd", func() error { return get(t, api, ns, "managed-etcd", &etcd) })
	if *etcd.Spec.Replicas != 3 || etcd.Spec.ServiceName != "managed-etcd" || len(etcd.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("managed etcd StatefulSet spec %+v", etcd.Spec)
	}
	var managed appsv1.StatefulSet
	kafkatest.WaitUntil(t, wait, "the managed cluster's brokers", func() error { return get(t, api, ns, "managed", &managed) })
	wantEndpoints := "http://managed-etcd-0.managed-etcd.objects.svc:2379,http://managed-etcd-1.managed-etcd.objects.svc:2379,http://managed-etcd-2.managed-etcd.objects.svc:2379"
	if got := env(managed.Spec.Template.Spec.Containers[0])["KAFSCALE_ETCD_ENDPOINTS"]; got != wantEndpoints {
		t.Errorf("brokers of a managed etcd use %q, want %q", got, wantEndpoints)
	}

	// Autoscaling off: the HPA goes.
	patch = client.MergeFrom(c.DeepCopy())
	c.Spec.Brokers.Autoscaling = nil
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the HPA to be deleted", func() error {
		if err := get(t, api, ns, "kafka", &hpa); !apierrors.IsNotFound(err) {
			return fmt.Errorf("HPA still there (%v)", err)
		}
		return nil
	})
}

// setReady plays the StatefulSet controller and the kubelet: n pods, all ready and current.
func setReady(t *testing.T, api *testkube.API, ns, name string, n int32) {
	t.Helper()
	kafkatest.WaitUntil(t, wait, "the StatefulSet's status to be written", func() error {
		var sts appsv1.StatefulSet
		if err := get(t, api, ns, name, &sts); err != nil {
			return err
		}
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: n, ReadyReplicas: n,
			CurrentReplicas: n, UpdatedReplicas: n, AvailableReplicas: n, CurrentRevision: "r", UpdateRevision: "r"}
		return api.Client.Status().Update(context.Background(), &sts)
	})
}

// TestScaleDownWaitsForTheDrainTimeout guards acceptance 3's timeout: scaled down through
// the scale subresource (as kubectl scale and the HPA do) while its brokers cannot be
// reached, the cluster keeps its pods until the drain timeout, says so in its status
// meanwhile, then scales down and reports the timeout in its Degraded condition. Scaling
// up is immediate.
func TestScaleDownWaitsForTheDrainTimeout(t *testing.T) {
	api := testkube.Start(t)
	testkube.StartOperator(t, api, nowhere{})
	ctx := context.Background()
	ns := namespace(t, api, "scale")
	c := newCluster(ns, "kafka", 3)
	c.Spec.Brokers.DrainTimeout = &metav1.Duration{Duration: 3 * time.Second}
	if err := api.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	var sts appsv1.StatefulSet
	kafkatest.WaitUntil(t, wait, "the broker StatefulSet", func() error { return get(t, api, ns, "kafka", &sts) })
	setReady(t, api, ns, "kafka", 3)

	scale := &autoscalingv1.Scale{}
	// The selector is the status's, which the operator writes after it made the objects.
	kafkatest.WaitUntil(t, wait, "the scale subresource with the cluster's selector", func() error {
		if err := api.Client.SubResource("scale").Get(ctx, c, scale); err != nil {
			return err
		}
		if scale.Spec.Replicas != 3 || !strings.Contains(scale.Status.Selector, "app.kubernetes.io/instance=kafka") {
			return fmt.Errorf("scale subresource: %+v", scale)
		}
		return nil
	})
	scale.Spec.Replicas = 1
	start := time.Now()
	if err := api.Client.SubResource("scale").Update(ctx, c, client.WithSubResourceBody(scale)); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the drain to show in the status", func() error {
		if err := get(t, api, ns, "kafka", c); err != nil {
			return err
		}
		d := c.Status.Drain
		p := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionProgressing)
		if d == nil || d.From != 3 || d.To != 1 || !slices.Equal(d.Remaining, []int32{1, 2}) || p == nil || p.Reason != "Draining" {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})
	if err := get(t, api, ns, "kafka", &sts); err != nil || *sts.Spec.Replicas != 3 {
		t.Fatalf("the StatefulSet was scaled to %d before the drain ended (%v)", *sts.Spec.Replicas, err)
	}
	kafkatest.WaitUntil(t, wait, "the scale-down after the drain timeout", func() error {
		if err := get(t, api, ns, "kafka", &sts); err != nil {
			return err
		}
		if *sts.Spec.Replicas != 1 {
			return fmt.Errorf("replicas %d", *sts.Spec.Replicas)
		}
		return nil
	})
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("scaled down %s after the request, before the 3 s drain timeout", took)
	}
	kafkatest.WaitUntil(t, wait, "the timeout in the status", func() error {
		if err := get(t, api, ns, "kafka", c); err != nil {
			return err
		}
		d := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionDegraded)
		if c.Status.Drain != nil || d == nil || d.Status != metav1.ConditionTrue || d.Reason != "DrainTimedOut" {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})
	t.Logf("Degraded: %s", meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionDegraded).Message)
	// What `kubectl describe kafscalecluster` shows of it.
	draining := api.WaitEvent(t, c, "KafscaleCluster", corev1.EventTypeNormal, "Draining", wait)
	if !strings.Contains(draining.Note, "from 3 to 1") {
		t.Errorf("Draining event: %q", draining.Note)
	}
	api.WaitEvent(t, c, "KafscaleCluster", corev1.EventTypeWarning, "DrainTimedOut", wait)

	// Up again: no wait.
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Brokers.Replicas = new(int32(4))
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the scale-up", func() error {
		if err := get(t, api, ns, "kafka", &sts); err != nil {
			return err
		}
		if *sts.Spec.Replicas != 4 {
			return fmt.Errorf("replicas %d", *sts.Spec.Replicas)
		}
		return nil
	})
}

// TestScaleUpDuringADrainCancelsIt: a scale-down still draining is given up when the spec
// asks for the brokers again: the drain leaves the status, the StatefulSet never went down,
// and nothing is reported as timed out.
func TestScaleUpDuringADrainCancelsIt(t *testing.T) {
	api := testkube.Start(t)
	testkube.StartOperator(t, api, nowhere{})
	ctx := context.Background()
	ns := namespace(t, api, "cancel")
	c := newCluster(ns, "kafka", 3)
	c.Spec.Brokers.DrainTimeout = &metav1.Duration{Duration: time.Hour}
	if err := api.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	var sts appsv1.StatefulSet
	kafkatest.WaitUntil(t, wait, "the broker StatefulSet", func() error { return get(t, api, ns, "kafka", &sts) })
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Brokers.Replicas = new(int32(2))
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the drain to show in the status", func() error {
		if err := get(t, api, ns, "kafka", c); err != nil {
			return err
		}
		if c.Status.Drain == nil {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})
	patch = client.MergeFrom(c.DeepCopy())
	c.Spec.Brokers.Replicas = new(int32(3))
	if err := api.Client.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the drain to be given up", func() error {
		if err := get(t, api, ns, "kafka", c); err != nil {
			return err
		}
		p := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionProgressing)
		if c.Status.Drain != nil || c.Status.ObservedGeneration != c.Generation || p == nil || p.Reason == "Draining" {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})
	if err := get(t, api, ns, "kafka", &sts); err != nil || *sts.Spec.Replicas != 3 {
		t.Errorf("StatefulSet replicas %d (%v), want 3 throughout", *sts.Spec.Replicas, err)
	}
	if meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionDegraded) {
		t.Errorf("a given-up drain reported as %+v", meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionDegraded))
	}
}
