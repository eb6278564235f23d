package objects

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// PodDisruptionBudget lets a node drain evict one broker at a time: each drains its
// partitions to the others on SIGTERM, which needs the others up.
func PodDisruptionBudget(c *v1alpha1.KafscaleCluster) *policyv1.PodDisruptionBudget {
	labels := Labels(c, ComponentBroker)
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: BrokersName(c), Namespace: c.Namespace, Labels: labels},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &one,
			Selector:       &metav1.LabelSelector{MatchLabels: labels},
		},
	}
}

// HorizontalPodAutoscaler scales the KafscaleCluster itself (its scale subresource), not
// the StatefulSet, so that every scale-down goes through the operator's drain. Nil when
// the spec asks for no autoscaling.
func HorizontalPodAutoscaler(c *v1alpha1.KafscaleCluster) *autoscalingv2.HorizontalPodAutoscaler {
	a := c.Spec.Brokers.Autoscaling
	if a == nil {
		return nil
	}
	var metric autoscalingv2.MetricSpec
	if a.Metric != nil {
		q := a.Metric.AverageValue.DeepCopy()
		metric = autoscalingv2.MetricSpec{
			Type: autoscalingv2.PodsMetricSourceType,
			Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: a.Metric.Name},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q},
			},
		}
	} else {
		target := int32(70)
		if a.TargetCPUUtilization != nil {
			target = *a.TargetCPUUtilization
		}
		metric = autoscalingv2.MetricSpec{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target},
			},
		}
	}
	minReplicas := a.MinReplicas
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: BrokersName(c), Namespace: c.Namespace, Labels: Labels(c, ComponentBroker)},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: v1alpha1.GroupVersion.String(),
				Kind:       "KafscaleCluster",
				Name:       c.Name,
			},
			MinReplicas: &minReplicas,
			MaxReplicas: a.MaxReplicas,
			Metrics:     []autoscalingv2.MetricSpec{metric},
		},
	}
}
