package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KafscaleCluster is a KafScale broker cluster: a StatefulSet of `kafscale broker` pods
// sharing one bucket and one etcd, with its Services, PodDisruptionBudget and autoscaler.
// Its scale subresource is spec.brokers.replicas, so `kubectl scale` and an HPA go through
// the operator, which drains a broker before its pod is removed.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=ksc,categories=kafscale
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.brokers.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Brokers",type=string,JSONPath=`.status.brokers`
// +kubebuilder:printcolumn:name="Bootstrap",type=string,JSONPath=`.status.bootstrap`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KafscaleCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KafscaleClusterSpec   `json:"spec"`
	Status KafscaleClusterStatus `json:"status,omitempty"`
}

// KafscaleClusterList is a list of KafscaleCluster.
//
// +kubebuilder:object:root=true
type KafscaleClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafscaleCluster `json:"items"`
}

// KafscaleClusterSpec is what the user asks for.
type KafscaleClusterSpec struct {
	Brokers BrokersSpec `json:"brokers"`
	Storage StorageSpec `json:"storage"`
	Etcd    EtcdSpec    `json:"etcd"`
	// Config holds broker settings passed to every broker as flags.
	// +optional
	Config BrokerConfig `json:"config,omitempty"`
}

// BrokersSpec describes the broker pods.
type BrokersSpec struct {
	// Replicas is the number of brokers; ids are the pods' ordinals 0..replicas-1. An
	// autoscaler, when set, changes it between its min and max.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Image is the broker image (it must hold the kafscale binary at /kafscale).
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image"`
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// Resources of the broker container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// Listener is the Kafka listener each broker opens and advertises.
	// +optional
	Listener ListenerSpec `json:"listener,omitempty"`
	// AdminPort serves /metrics, /readyz and BrokerControl (the drain API).
	// +kubebuilder:default=9093
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	AdminPort int32 `json:"adminPort,omitempty"`
	// DrainTimeout bounds how long the operator waits for a broker to lead no partition
	// before its pod is removed on scale-down; past it the pod is removed anyway (the
	// broker's partitions then fail over, nothing acknowledged is lost) and the cluster's
	// Degraded condition says so.
	// +kubebuilder:default="2m"
	// +optional
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`
	// Autoscaling, when set, makes an HPA scale the cluster (through its scale
	// subresource, so every scale-down drains first).
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
}

// ListenerSpec is the Kafka listener of every broker.
type ListenerSpec struct {
	// Port the brokers listen on and the bootstrap Service exposes.
	// +kubebuilder:default=9092
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
	// AdvertisedHostTemplate is the host each broker advertises to clients; {{ID}} is
	// replaced by the broker id (the pod's ordinal). Empty advertises the pod's stable name
	// in the headless Service, <cluster>-<id>.<cluster>-brokers.<namespace>.svc, which
	// resolves inside the Kubernetes cluster.
	// +kubebuilder:validation:Pattern=`^$|^[a-z0-9.-]*(\{\{ID\}\}[a-z0-9.-]*)*$`
	// +optional
	AdvertisedHostTemplate string `json:"advertisedHostTemplate,omitempty"`
	// AdvertisedPort is the port every broker advertises; 0 advertises Port.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	AdvertisedPort int32 `json:"advertisedPort,omitempty"`
}

// AutoscalingSpec configures the cluster's HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="self.maxReplicas >= self.minReplicas",message="maxReplicas must be at least minReplicas"
type AutoscalingSpec struct {
	// +kubebuilder:validation:Minimum=1
	MinReplicas int32 `json:"minReplicas"`
	// +kubebuilder:validation:Minimum=1
	MaxReplicas int32 `json:"maxReplicas"`
	// TargetCPUUtilization is the brokers' average CPU use, in percent of their request,
	// that the HPA keeps.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	TargetCPUUtilization *int32 `json:"targetCPUUtilization,omitempty"`
	// Metric, when set, scales on a per-pod broker metric (served by a custom metrics
	// adapter) instead of CPU.
	// +optional
	Metric *MetricTarget `json:"metric,omitempty"`
}

// MetricTarget is a per-pod metric and the average value per broker to keep it at.
type MetricTarget struct {
	// Name of the metric as the custom metrics API serves it, e.g. a per-second rate of
	// the brokers' kafscale_produce_bytes_total that a Prometheus adapter is set up to serve.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// AverageValue per broker.
	AverageValue resource.Quantity `json:"averageValue"`
}

// StorageSpec is the S3-compatible bucket the brokers keep record data in.
type StorageSpec struct {
	// +kubebuilder:validation:MinLength=3
	Bucket string `json:"bucket"`
	// Endpoint of an S3-compatible service (MinIO, ...); empty uses AWS S3.
	// +kubebuilder:validation:Pattern=`^$|^https?://`
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// +kubebuilder:default="us-east-1"
	// +optional
	Region string `json:"region,omitempty"`
	// Prefix of every object key in the bucket.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// CredentialsSecret names a Secret in the cluster's namespace with the keys
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; empty uses the pod's own identity.
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
}

// EtcdSpec says where the cluster's metadata lives: external endpoints, or a 3-member
// etcd StatefulSet the operator runs.
// +kubebuilder:validation:XValidation:rule="(has(self.endpoints) && size(self.endpoints) > 0) != (has(self.managed) && self.managed)",message="set exactly one of endpoints and managed"
type EtcdSpec struct {
	// Endpoints of an existing etcd cluster, e.g. http://etcd:2379.
	// +optional
	Endpoints []string `json:"endpoints,omitempty"`
	// Prefix of the cluster's keys in etcd; empty is /kafscale/<namespace>/<name>.
	// +kubebuilder:validation:Pattern=`^$|^/`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Managed asks the operator to run a 3-member etcd StatefulSet for this cluster.
	// +optional
	Managed bool `json:"managed,omitempty"`
	// Image of the managed etcd.
	// +kubebuilder:default="registry.k8s.io/etcd:3.5.21-0"
	// +optional
	Image string `json:"image,omitempty"`
	// StorageSize of each managed etcd member's volume (default 1Gi).
	// +optional
	StorageSize *resource.Quantity `json:"storageSize,omitempty"`
}

// BrokerConfig holds the broker settings the operator passes as flags. Unknown fields are
// refused at admission, as every spec field is.
type BrokerConfig struct {
	// FlushBytes: a flush object is written when this many bytes are pending (--flush-bytes).
	// +kubebuilder:validation:Minimum=1024
	// +optional
	FlushBytes *int64 `json:"flushBytes,omitempty"`
	// FlushInterval: a flush object is written when the oldest pending batch is this old
	// (--flush-interval), e.g. 100ms.
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m)$`
	// +optional
	FlushInterval string `json:"flushInterval,omitempty"`
	// BufferBytes bounds the bytes produced and not yet committed (--buffer-bytes).
	// +kubebuilder:validation:Minimum=1048576
	// +optional
	BufferBytes *int64 `json:"bufferBytes,omitempty"`
	// CacheBytes is the size of the object range cache (--cache-bytes).
	// +kubebuilder:validation:Minimum=0
	// +optional
	CacheBytes *int64 `json:"cacheBytes,omitempty"`
}

// KafscaleClusterStatus is what the operator observed and did.
type KafscaleClusterStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas is the number of broker pods the StatefulSet runs (scale subresource).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas is the number of those that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// Brokers is ready/desired, for the printer column.
	// +optional
	Brokers string `json:"brokers,omitempty"`
	// Selector is the label selector of the broker pods (scale subresource, for the HPA).
	// +optional
	Selector string `json:"selector,omitempty"`
	// Bootstrap is the address clients bootstrap from.
	// +optional
	Bootstrap string `json:"bootstrap,omitempty"`
	// ConfigHash is the hash of the broker settings the pods were last rolled with.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`
	// Drain is the scale-down in progress, if any.
	// +optional
	Drain *DrainStatus `json:"drain,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DrainStatus is a scale-down waiting for brokers to lead nothing before their pods go.
type DrainStatus struct {
	// From is the StatefulSet's replicas when the drain began, To what it is being
	// scaled to: brokers To..From-1 are drained.
	From int32 `json:"from"`
	To   int32 `json:"to"`
	// StartedAt is when the drain began; the drain timeout counts from it. Microseconds,
	// not metav1.Time's whole seconds, so that a short timeout is not cut by up to a second.
	StartedAt metav1.MicroTime `json:"startedAt"`
	// Remaining lists the brokers still leading partitions or coordinator slots.
	// +optional
	Remaining []int32 `json:"remaining,omitempty"`
}
