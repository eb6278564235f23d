package reconcile

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The operator's own metrics, beside controller-runtime's reconcile counts, errors and
// durations, on the operator's metrics endpoint (controller-runtime's registry). Every
// label value is exported from the start, at zero.
var (
	drainsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafscale_operator_drains_total",
		Help: "Scale-downs by how their drain ended: drained (every removed broker led nothing) or timed_out (pods removed at the drain timeout).",
	}, []string{"result"})
	drainDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kafscale_operator_drain_duration_seconds",
		Help:    "Time from a scale-down's start to the StatefulSet's scale-down, drained or timed out.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	})
	topicChangesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafscale_operator_topic_changes_total",
		Help: "Changes made to Kafka topics through the Kafka protocol, by kind: created, partitions_added, configs_altered, deleted.",
	}, []string{"change"})
)

func init() {
	metrics.Registry.MustRegister(drainsTotal, drainDuration, topicChangesTotal)
	for _, r := range []string{"drained", "timed_out"} {
		drainsTotal.WithLabelValues(r)
	}
	for _, c := range []string{"created", "partitions_added", "configs_altered", "deleted"} {
		topicChangesTotal.WithLabelValues(c)
	}
}
