package objects

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// EtcdService is the headless Service of a managed etcd, giving each member the stable
// name its peers and the brokers reach it by.
func EtcdService(c *v1alpha1.KafscaleCluster) *corev1.Service {
	labels := Labels(c, ComponentEtcd)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: EtcdName(c), Namespace: c.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			// Peers must resolve each other before they are ready: the cluster forms
			// only once a quorum has found one another.
			PublishNotReadyAddresses: true,
			Selector:                 labels,
			Ports: []corev1.ServicePort{
				{Name: "client", Port: 2379, TargetPort: intstr.FromInt32(2379)},
				{Name: "peer", Port: 2380, TargetPort: intstr.FromInt32(2380)},
			},
		},
	}
}

// EtcdStatefulSet is a managed 3-member etcd cluster, each member with its own volume.
func EtcdStatefulSet(c *v1alpha1.KafscaleCluster) *appsv1.StatefulSet {
	labels := Labels(c, ComponentEtcd)
	name, ns := EtcdName(c), c.Namespace
	peers := make([]string, EtcdMembers)
	for i := range peers {
		peers[i] = fmt.Sprintf("%s-%d=http://%s-%d.%s.%s.svc:2380", name, i, name, i, name, ns)
	}
	replicas := int32(EtcdMembers)
	size := resource.MustParse("1Gi")
	if q := c.Spec.Etcd.StorageSize; q != nil {
		size = q.DeepCopy()
	}
	image := c.Spec.Etcd.Image
	if image == "" {
		image = "registry.k8s.io/etcd:3.5.21-0"
	}
	self := fmt.Sprintf("$(POD_NAME).%s.%s.svc", name, ns)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         name,
			Selector:            &metav1.LabelSelector{MatchLabels: labels},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: new(false),
					Containers: []corev1.Container{{
						Name:    "etcd",
						Image:   image,
						Command: []string{"etcd"},
						Env: []corev1.EnvVar{
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "ETCD_NAME", Value: "$(POD_NAME)"},
							{Name: "ETCD_DATA_DIR", Value: "/var/lib/etcd"},
							{Name: "ETCD_LISTEN_CLIENT_URLS", Value: "http://0.0.0.0:2379"},
							{Name: "ETCD_LISTEN_PEER_URLS", Value: "http://0.0.0.0:2380"},
							{Name: "ETCD_ADVERTISE_CLIENT_URLS", Value: "http://" + self + ":2379"},
							{Name: "ETCD_INITIAL_ADVERTISE_PEER_URLS", Value: "http://" + self + ":2380"},
							{Name: "ETCD_INITIAL_CLUSTER", Value: strings.Join(peers, ",")},
							{Name: "ETCD_INITIAL_CLUSTER_STATE", Value: "new"},
							{Name: "ETCD_INITIAL_CLUSTER_TOKEN", Value: ns + "-" + name},
						},
						Ports: []corev1.ContainerPort{{Name: "client", ContainerPort: 2379}, {Name: "peer", ContainerPort: 2380}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(2379)}}},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/etcd"}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
				},
			}},
		},
	}
}
