// Package objects builds the Kubernetes objects a KafscaleCluster is made of (the broker
// StatefulSet, its Services, PodDisruptionBudget and autoscaler, and the managed etcd) as
// pure functions of the cluster resource, so that what the operator applies can be read and
// tested without an API server. The reconcilers (operator/reconcile) apply them.
package objects

import (
	"fmt"
	"strings"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// Label keys on every object the operator makes, and the pod selector's.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelPodIndex is the StatefulSet controller's label holding a pod's ordinal
	// (Kubernetes 1.28 and later), read through the downward API as the broker id.
	LabelPodIndex = "apps.kubernetes.io/pod-index"
)

// ConfigHashAnnotation on the broker pod template changes whenever a broker setting does,
// so that the StatefulSet rolls the pods (each draining itself on SIGTERM).
const ConfigHashAnnotation = "kafscale.io/config-hash"

// Component names, the app.kubernetes.io/component label of each kind of object.
const (
	ComponentBroker = "broker"
	ComponentEtcd   = "etcd"
)

// BrokersName is the name of the broker StatefulSet, which is the cluster's own: pods are
// <cluster>-0, <cluster>-1, ... and broker i is pod <cluster>-i.
func BrokersName(c *v1alpha1.KafscaleCluster) string { return c.Name }

// HeadlessName is the headless Service giving each broker pod a stable DNS name.
func HeadlessName(c *v1alpha1.KafscaleCluster) string { return c.Name + "-brokers" }

// BootstrapName is the Service clients bootstrap from.
func BootstrapName(c *v1alpha1.KafscaleCluster) string { return c.Name + "-bootstrap" }

// EtcdName is the managed etcd's StatefulSet and headless Service.
func EtcdName(c *v1alpha1.KafscaleCluster) string { return c.Name + "-etcd" }

// EtcdMembers is the size of a managed etcd cluster.
const EtcdMembers = 3

// PodDNS is broker id's stable name inside the Kubernetes cluster.
func PodDNS(c *v1alpha1.KafscaleCluster, id int32) string {
	return fmt.Sprintf("%s-%d.%s.%s.svc", BrokersName(c), id, HeadlessName(c), c.Namespace)
}

// Bootstrap is the address of the bootstrap Service.
func Bootstrap(c *v1alpha1.KafscaleCluster) string {
	return fmt.Sprintf("%s.%s.svc:%d", BootstrapName(c), c.Namespace, KafkaPort(c))
}

// KafkaPort is the brokers' Kafka listener port.
func KafkaPort(c *v1alpha1.KafscaleCluster) int32 {
	if c.Spec.Brokers.Listener.Port != 0 {
		return c.Spec.Brokers.Listener.Port
	}
	return 9092
}

// AdminPort is the port of the brokers' /metrics, /readyz and BrokerControl.
func AdminPort(c *v1alpha1.KafscaleCluster) int32 {
	if c.Spec.Brokers.AdminPort != 0 {
		return c.Spec.Brokers.AdminPort
	}
	return 9093
}

// Replicas is the number of brokers the spec asks for.
func Replicas(c *v1alpha1.KafscaleCluster) int32 {
	if c.Spec.Brokers.Replicas != nil {
		return *c.Spec.Brokers.Replicas
	}
	return 3
}

// EtcdEndpoints are the client URLs the brokers use: the spec's, or the managed members'.
func EtcdEndpoints(c *v1alpha1.KafscaleCluster) []string {
	if !c.Spec.Etcd.Managed {
		return c.Spec.Etcd.Endpoints
	}
	out := make([]string, EtcdMembers)
	for i := range out {
		out[i] = fmt.Sprintf("http://%s-%d.%s.%s.svc:2379", EtcdName(c), i, EtcdName(c), c.Namespace)
	}
	return out
}

// advertisedHost is the host broker pods advertise, with $(POD_INDEX) where the
// broker id goes: the kubelet expands it from the pod's own environment.
func advertisedHost(c *v1alpha1.KafscaleCluster) string {
	if t := c.Spec.Brokers.Listener.AdvertisedHostTemplate; t != "" {
		return strings.ReplaceAll(t, "{{ID}}", "$(POD_INDEX)")
	}
	return fmt.Sprintf("$(POD_NAME).%s.%s.svc", HeadlessName(c), c.Namespace)
}

// Labels are the labels of every object of a component of the cluster; the selector of its
// pods is the same set.
func Labels(c *v1alpha1.KafscaleCluster, component string) map[string]string {
	return map[string]string{
		LabelName:      "kafscale",
		LabelInstance:  c.Name,
		LabelComponent: component,
		LabelManagedBy: "kafscale-operator",
	}
}

// EtcdPrefix is the key prefix of the cluster's metadata: the spec's, or one of its own
// per namespace and name, so that clusters can share an etcd.
func EtcdPrefix(c *v1alpha1.KafscaleCluster) string {
	if c.Spec.Etcd.Prefix != "" {
		return c.Spec.Etcd.Prefix
	}
	return "/kafscale/" + c.Namespace + "/" + c.Name
}
