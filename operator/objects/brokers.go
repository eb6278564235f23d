package objects

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// BrokerDrainTimeout is each broker's own --drain-timeout: on SIGTERM (a rolling restart,
// a node drain, a pod deleted by hand) it moves its partitions to the other brokers for
// at most this long before it flushes and stops.
const BrokerDrainTimeout = 30 * time.Second

// brokerShutdownTimeout is each broker's --shutdown-timeout, the flush after the drain.
const brokerShutdownTimeout = 30 * time.Second

// terminationGrace lets a broker drain (in its preStop hook, then again on SIGTERM, which
// finds nothing left) and flush before the kubelet kills it.
var terminationGrace = int64((BrokerDrainTimeout + brokerShutdownTimeout + 10*time.Second) / time.Second)

// BrokerStatefulSet returns the broker StatefulSet with replicas pods. The operator sets
// replicas itself (not from the spec) because a scale-down waits for the drain.
func BrokerStatefulSet(c *v1alpha1.KafscaleCluster, replicas int32) *appsv1.StatefulSet {
	labels := Labels(c, ComponentBroker)
	pod := brokerPod(c)
	pod.ObjectMeta.Annotations = map[string]string{ConfigHashAnnotation: ConfigHash(&pod.Spec)}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: BrokersName(c), Namespace: c.Namespace, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: HeadlessName(c),
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			// Brokers need no start order: each registers in etcd on its own, and the
			// controller gives a new one its share of partitions.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			Template:            pod,
		},
	}
}

// brokerPod is the broker pod template without its config-hash annotation.
func brokerPod(c *v1alpha1.KafscaleCluster) corev1.PodTemplateSpec {
	b := c.Spec.Brokers
	admin := AdminPort(c)
	container := corev1.Container{
		Name:            "broker",
		Image:           b.Image,
		ImagePullPolicy: b.ImagePullPolicy,
		Command:         []string{"/kafscale", "broker"},
		Env:             brokerEnv(c),
		Ports: []corev1.ContainerPort{
			{Name: "kafka", ContainerPort: KafkaPort(c), Protocol: corev1.ProtocolTCP},
			{Name: "admin", ContainerPort: admin, Protocol: corev1.ProtocolTCP},
		},
		Resources: b.Resources,
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("admin")}},
			PeriodSeconds: 5,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("admin")}},
			PeriodSeconds:    10,
			FailureThreshold: 6,
		},
		// Whatever stops the pod (a rolling restart, a node drain, an eviction, a deletion),
		// the broker's partitions move to the others through BrokerControl Drain first, as
		// the operator's scale-down does; the kubelet runs this before SIGTERM, within the
		// grace period. Drain fails where no other broker serves (nowhere to move to), and
		// the pod stops all the same. The broker id comes from KAFSCALE_BROKER_ID.
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{
			"/kafscale", "broker", "drain", "--admin", "127.0.0.1:" + strconv.Itoa(int(admin)),
			"--timeout", BrokerDrainTimeout.String(),
		}}}},
		// The root filesystem is read-only; /tmp is the one place a broker may write.
		VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			ReadOnlyRootFilesystem:   new(true),
			RunAsUser:                new(int64(65532)),
			RunAsNonRoot:             new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: Labels(c, ComponentBroker)},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{container},
			Volumes:                       []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			TerminationGracePeriodSeconds: &terminationGrace,
			NodeSelector:                  b.NodeSelector,
			Tolerations:                   b.Tolerations,
			// Brokers call no Kubernetes API.
			AutomountServiceAccountToken: new(false),
		},
	}
}

// brokerEnv configures `kafscale broker` through its KAFSCALE_<FLAG> variables. POD_NAME
// and POD_INDEX come first: the kubelet expands $(POD_NAME) in later values only.
func brokerEnv(c *v1alpha1.KafscaleCluster) []corev1.EnvVar {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	val := func(name, v string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: v} }
	advPort := KafkaPort(c)
	if p := c.Spec.Brokers.Listener.AdvertisedPort; p != 0 {
		advPort = p
	}
	env := []corev1.EnvVar{
		field("POD_NAME", "metadata.name"),
		field("POD_INDEX", "metadata.labels['"+LabelPodIndex+"']"),
		// The ordinal of the pod name is the broker id (cmd/kafscale's --broker-id).
		val("KAFSCALE_BROKER_ID", "$(POD_NAME)"),
		val("KAFSCALE_LISTEN", "0.0.0.0:"+strconv.Itoa(int(KafkaPort(c)))),
		val("KAFSCALE_ADVERTISED_LISTENER", advertisedHost(c)+":"+strconv.Itoa(int(advPort))),
		val("KAFSCALE_METRICS_LISTEN", "0.0.0.0:"+strconv.Itoa(int(AdminPort(c)))),
		val("KAFSCALE_LOG_FORMAT", "json"),
		val("KAFSCALE_DRAIN_TIMEOUT", BrokerDrainTimeout.String()),
		val("KAFSCALE_SHUTDOWN_TIMEOUT", brokerShutdownTimeout.String()),
		val("KAFSCALE_ETCD_ENDPOINTS", strings.Join(EtcdEndpoints(c), ",")),
		val("KAFSCALE_ETCD_PREFIX", EtcdPrefix(c)),
	}
	s := c.Spec.Storage
	env = append(env, val("KAFSCALE_S3_BUCKET", s.Bucket))
	if s.Endpoint != "" {
		env = append(env, val("KAFSCALE_S3_ENDPOINT", s.Endpoint), val("KAFSCALE_S3_PATH_STYLE", "true"))
	}
	if s.Region != "" {
		env = append(env, val("KAFSCALE_S3_REGION", s.Region))
	}
	if s.Prefix != "" {
		env = append(env, val("KAFSCALE_S3_PREFIX", s.Prefix))
	}
	if s.CredentialsSecret != "" {
		for _, key := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			env = append(env, corev1.EnvVar{Name: key, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: s.CredentialsSecret}, Key: key}}})
		}
	}
	cfg := c.Spec.Config
	if cfg.FlushBytes != nil {
		env = append(env, val("KAFSCALE_FLUSH_BYTES", strconv.FormatInt(*cfg.FlushBytes, 10)))
	}
	if cfg.FlushInterval != "" {
		env = append(env, val("KAFSCALE_FLUSH_INTERVAL", cfg.FlushInterval))
	}
	if cfg.BufferBytes != nil {
		env = append(env, val("KAFSCALE_BUFFER_BYTES", strconv.FormatInt(*cfg.BufferBytes, 10)))
	}
	if cfg.CacheBytes != nil {
		env = append(env, val("KAFSCALE_CACHE_BYTES", strconv.FormatInt(*cfg.CacheBytes, 10)))
	}
	return env
}

// ConfigHash hashes a pod spec: the broker settings are all in it (environment, image,
// resources), so any change of them changes the hash and rolls the pods. A Secret's
// contents are not in it: rotating credentials needs `kubectl rollout restart`.
func ConfigHash(spec *corev1.PodSpec) string {
	b, err := json.Marshal(spec)
	if err != nil {
		panic("BUG: cannot marshal a pod spec: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// HeadlessService gives each broker pod a stable DNS name, the one it advertises by
// default. Not-ready pods are published too, so that a broker draining (no longer ready)
// or starting is still reachable by name.
func HeadlessService(c *v1alpha1.KafscaleCluster) *corev1.Service {
	labels := Labels(c, ComponentBroker)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: HeadlessName(c), Namespace: c.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 labels,
			Ports: []corev1.ServicePort{
				{Name: "kafka", Port: KafkaPort(c), TargetPort: intstr.FromString("kafka")},
				{Name: "admin", Port: AdminPort(c), TargetPort: intstr.FromString("admin")},
			},
		},
	}
}

// BootstrapService is the one address clients need: any ready broker answers Metadata
// with every broker's advertised listener.
func BootstrapService(c *v1alpha1.KafscaleCluster) *corev1.Service {
	labels := Labels(c, ComponentBroker)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: BootstrapName(c), Namespace: c.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "kafka", Port: KafkaPort(c), TargetPort: intstr.FromString("kafka")}},
		},
	}
}
