package reconcile

import (
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Events are what `kubectl describe` and `kubectl get events` show of the operator's work
// on a KafscaleCluster or KafscaleTopic (events.k8s.io/v1): each change it makes to the
// cluster (a drain, a scale-down, a topic created, partitions added, configs altered or a
// topic deleted) and each failure, so that users see them without the operator's log.
//
// Reasons, the same as the status conditions' where both exist.
const (
	reasonDraining        = "Draining"
	reasonDrained         = "Drained"
	reasonDrainTimedOut   = "DrainTimedOut"
	reasonDrainCancelled  = "DrainCancelled"
	reasonReconcileFailed = "ReconcileFailed"
	reasonTopicCreated    = "TopicCreated"
	reasonPartitionsAdded = "PartitionsAdded"
	reasonConfigsAltered  = "ConfigsAltered"
	reasonTopicDeleted    = "TopicDeleted"
	reasonKafkaError      = "KafkaError"
	reasonDeleteFailed    = "DeleteFailed"
)

// eventRecorder returns r when set (tests may pass their own), or the manager's recorder,
// reporting as the operator.
func eventRecorder(r events.EventRecorder, mgr ctrl.Manager) events.EventRecorder {
	if r != nil {
		return r
	}
	return mgr.GetEventRecorder(FieldOwner)
}
