// Package v1alpha1 holds the kafscale.io/v1alpha1 API: KafscaleCluster (a broker cluster
// with its object storage and etcd) and KafscaleTopic (a topic of such a cluster). The CRDs
// in deploy/crds/ are generated from these types (`make crds`); their OpenAPI schema is what
// the API server validates at admission, so every constraint a user can break is written
// here as a kubebuilder marker, not checked later by the operator.
//
// +kubebuilder:object:generate=true
// +groupName=kafscale.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is kafscale.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: "kafscale.io", Version: "v1alpha1"}

// AddToScheme adds KafscaleCluster and KafscaleTopic (and their lists) to a scheme. The
// package depends on apimachinery alone, so that clients can import it cheaply.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &KafscaleCluster{}, &KafscaleClusterList{}, &KafscaleTopic{}, &KafscaleTopicList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Condition types shared by both kinds (status.conditions).
const (
	// ConditionReady is true when every broker is ready (a cluster) or the topic exists
	// with its partitions and configs (a topic).
	ConditionReady = "Ready"
	// ConditionProgressing is true while the operator changes something: brokers added
	// or drained, a rollout under way.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is true when the operator cannot do what the spec asks, or did it
	// in a worse way than asked (a drain that timed out).
	ConditionDegraded = "Degraded"
)
