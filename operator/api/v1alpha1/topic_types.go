package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KafscaleTopic is a topic of a KafscaleCluster, created and kept in step through the Kafka
// protocol: partitions are added when spec.partitions grows (Kafka cannot remove them),
// configs are set and removed as the spec says. A finalizer deletes the topic from the
// cluster before the resource goes, unless deletionPolicy is Retain.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=kst,categories=kafscale
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterRef`
// +kubebuilder:printcolumn:name="Partitions",type=integer,JSONPath=`.status.partitions`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KafscaleTopic struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KafscaleTopicSpec   `json:"spec"`
	Status KafscaleTopicStatus `json:"status,omitempty"`
}

// KafscaleTopicList is a list of KafscaleTopic.
//
// +kubebuilder:object:root=true
type KafscaleTopicList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafscaleTopic `json:"items"`
}

// KafscaleTopicSpec is the topic as the user wants it.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.topicName) || self.topicName == oldSelf.topicName",message="topicName cannot change"
type KafscaleTopicSpec struct {
	// ClusterRef names the KafscaleCluster, in the same namespace, the topic lives in.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterRef cannot change"
	ClusterRef string `json:"clusterRef"`
	// TopicName is the Kafka topic's name; empty uses the resource's name.
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]+$`
	// +optional
	TopicName string `json:"topicName,omitempty"`
	// Partitions of the topic; it can grow, never shrink (Kafka cannot remove partitions).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="partitions cannot decrease"
	Partitions int32 `json:"partitions"`
	// Configs are topic configs (retention.ms, cleanup.policy, ...), as kafka-configs sets
	// them; a config removed from the spec goes back to its default.
	// +optional
	Configs map[string]string `json:"configs,omitempty"`
	// DeletionPolicy says what deleting the resource does to the topic.
	// +kubebuilder:validation:Enum=Delete;Retain
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy string `json:"deletionPolicy,omitempty"`
}

// KafscaleTopicStatus is the topic as the cluster last reported it.
type KafscaleTopicStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// TopicID is the topic's id in the cluster.
	// +optional
	TopicID string `json:"topicID,omitempty"`
	// Partitions the topic has.
	// +optional
	Partitions int32 `json:"partitions,omitempty"`
	// ManagedConfigs are the config names the operator set last, so that one removed
	// from the spec is reset to its default.
	// +optional
	ManagedConfigs []string `json:"managedConfigs,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// KafkaName returns the Kafka topic's name.
func (t *KafscaleTopic) KafkaName() string {
	if t.Spec.TopicName != "" {
		return t.Spec.TopicName
	}
	return t.ObjectMeta.Name
}
