package reconcile

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// DefaultDrainTimeout is a cluster's drainTimeout when its spec leaves it out (the CRD's
// default says the same).
const DefaultDrainTimeout = 2 * time.Minute

// drainPoll is how soon a scale-down waiting for a drain is looked at again.
const drainPoll = 2 * time.Second

// scaleDown moves the StatefulSet from cur to desired replicas only once brokers
// desired..cur-1 lead nothing: the pods a scale-down removes are the highest ordinals, so
// those brokers are drained (BrokerControl Drain) first, and their Status must show no
// partition and no coordinator slot left. It returns the replicas to apply now: cur while
// the drain goes on, desired once it is done or its timeout passed. The drain's progress
// lives in the status, so it survives an operator restart.
func (r *Cluster) scaleDown(ctx context.Context, c *v1alpha1.KafscaleCluster, cur, desired int32) (int32, ctrl.Result, error) {
	st := &c.Status
	if st.Drain == nil || st.Drain.From != cur || st.Drain.To != desired {
		st.Drain = &v1alpha1.DrainStatus{From: cur, To: desired, StartedAt: metav1.NowMicro()}
		log.FromContext(ctx).Info("draining brokers before a scale-down", "from", cur, "to", desired)
		r.Events.Eventf(c, nil, corev1.EventTypeNormal, reasonDraining, "Drain",
			"draining brokers %d to %d before scaling the brokers from %d to %d", desired, cur-1, cur, desired)
	}
	var remaining []int32
	var problems []string
	for id := desired; id < cur; id++ {
		if done, why := r.drainOne(ctx, c, id); !done {
			remaining = append(remaining, id)
			problems = append(problems, fmt.Sprintf("broker %d: %s", id, why))
		}
	}
	st.Drain.Remaining = remaining
	if len(remaining) == 0 {
		took := time.Since(st.Drain.StartedAt.Time)
		log.FromContext(ctx).Info("brokers drained; scaling down", "from", cur, "to", desired, "took", took.Round(time.Millisecond).String())
		r.Events.Eventf(c, nil, corev1.EventTypeNormal, reasonDrained, "ScaleDown",
			"brokers %d to %d drained in %s; scaling the brokers from %d to %d", desired, cur-1, took.Round(time.Millisecond), cur, desired)
		drainsTotal.WithLabelValues("drained").Inc()
		drainDuration.Observe(took.Seconds())
		st.Drain = nil
		return desired, ctrl.Result{}, nil
	}
	timeout := DefaultDrainTimeout
	if d := c.Spec.Brokers.DrainTimeout; d != nil {
		timeout = d.Duration
	}
	if waited := time.Since(st.Drain.StartedAt.Time); waited >= timeout {
		// Removing the pods now loses nothing acknowledged (it is in object storage and
		// etcd); their partitions fail over after the session TTL instead of moving at once.
		msg := fmt.Sprintf("brokers %v were not seen drained %s after the drain began (drain timeout %s); their pods were removed anyway and their partitions fail over: %v",
			remaining, waited.Round(time.Second), timeout, problems)
		log.FromContext(ctx).Info("drain timed out; scaling down anyway", "from", cur, "to", desired, "remaining", remaining, "problems", problems)
		setCondition(&st.Conditions, c.Generation, v1alpha1.ConditionDegraded, metav1.ConditionTrue, reasonDrainTimedOut, msg)
		r.Events.Eventf(c, nil, corev1.EventTypeWarning, reasonDrainTimedOut, "ScaleDown", "%s", msg)
		drainsTotal.WithLabelValues("timed_out").Inc()
		drainDuration.Observe(waited.Seconds())
		st.Drain = nil
		return desired, ctrl.Result{}, nil
	}
	return cur, ctrl.Result{RequeueAfter: drainPoll}, nil
}

// drainOne asks broker id to drain (of itself, or of a broker that stays when it cannot be
// reached) and says whether its own Status shows it leads nothing; if not, why.
func (r *Cluster) drainOne(ctx context.Context, c *v1alpha1.KafscaleCluster, id int32) (bool, string) {
	callTimeout := r.DrainCallTimeout
	if callTimeout == 0 {
		callTimeout = 5 * time.Second
	}
	askers := []int32{id}
	for other := range min(c.Status.Drain.To, 3) {
		askers = append(askers, other)
	}
	var err error
	for _, asker := range askers {
		dctx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err = drainBroker(dctx, r.Addresses.Admin(c, asker), id)
		cancel()
		if status.Code(err) != codes.Unavailable {
			break
		}
	}
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		// Not registered: it runs no more (or never started), so it leads nothing.
		return true, ""
	case codes.FailedPrecondition:
		// No other broker serves (the cluster scales to zero): there is nowhere to move
		// its partitions, and removing it is what was asked.
		if c.Status.Drain.To == 0 {
			return true, ""
		}
		return false, err.Error()
	default:
		return false, err.Error()
	}
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s, err := brokerStatus(sctx, r.Addresses.Admin(c, id))
	if err != nil {
		return false, fmt.Sprintf("cannot read its status: %v", err)
	}
	if s.BrokerId != id {
		return false, fmt.Sprintf("its admin address answers as broker %d", s.BrokerId)
	}
	if s.PartitionsLed != 0 || s.CoordinatorSlots != 0 {
		return false, fmt.Sprintf("it still leads %d partitions and %d coordinator slots", s.PartitionsLed, s.CoordinatorSlots)
	}
	return true, ""
}

// abandonDrain clears a scale-down that the spec no longer asks for (scaled back up
// before the drain finished): the brokers that stay are undrained, so that they get
// partitions again.
func (r *Cluster) abandonDrain(ctx context.Context, c *v1alpha1.KafscaleCluster, desired int32) {
	d := c.Status.Drain
	for id := d.To; id < min(d.From, desired); id++ {
		uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := undrainBroker(uctx, r.Addresses.Admin(c, id), id); err != nil && status.Code(err) != codes.NotFound {
			log.FromContext(ctx).Info("cannot undrain a broker kept by a scale-up; it gets partitions back when it restarts", "broker", id, "err", err.Error())
		}
		cancel()
	}
	r.Events.Eventf(c, nil, corev1.EventTypeNormal, reasonDrainCancelled, "ScaleUp",
		"the scale-down from %d to %d brokers was given up: the spec asks for %d brokers", d.From, d.To, desired)
	c.Status.Drain = nil
}
