// Package reconcile holds the operator's controller-runtime reconcilers: Cluster makes a
// KafscaleCluster's objects (operator/objects) and drains brokers before a scale-down
// removes their pods; Topic keeps a KafscaleTopic's Kafka topic in step through the Kafka
// protocol. Both reach the brokers through Addresses, which tests replace.
//
// The markers below are the operator's whole RBAC (deploy/operator/role.yaml, `make crds`):
// it reads and writes its own resources and the objects it makes, and nothing else (no
// Secrets, no Pods).
//
// +kubebuilder:rbac:groups=kafscale.io,resources=kafscaleclusters;kafscaletopics,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kafscale.io,resources=kafscaleclusters/status;kafscaletopics/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kafscale.io,resources=kafscaleclusters/finalizers;kafscaletopics/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
package reconcile

import (
	"fmt"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
	"github.com/kafscale/kafscale/operator/objects"
)

// Addresses says where the operator reaches a cluster's brokers: in Kubernetes, through
// the cluster's Services; in tests, wherever test brokers listen.
type Addresses interface {
	// Admin is broker id's BrokerControl address (host:port).
	Admin(c *v1alpha1.KafscaleCluster, id int32) string
	// Bootstrap is where a Kafka client bootstraps from.
	Bootstrap(c *v1alpha1.KafscaleCluster) []string
}

// ServiceAddresses resolves brokers by their Kubernetes Service names, as the operator
// sees them running inside the cluster.
type ServiceAddresses struct{}

// Admin returns the pod's stable name in the headless Service, with the admin port.
func (ServiceAddresses) Admin(c *v1alpha1.KafscaleCluster, id int32) string {
	return fmt.Sprintf("%s:%d", objects.PodDNS(c, id), objects.AdminPort(c))
}

// Bootstrap returns the bootstrap Service.
func (ServiceAddresses) Bootstrap(c *v1alpha1.KafscaleCluster) []string {
	return []string{objects.Bootstrap(c)}
}
