package testkube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// Event is one events.k8s.io/v1 Event about an object, as the test reads it.
type Event struct{ Type, Reason, Note string }

// Events returns the Events recorded about obj (same kind, namespace and name), oldest
// first.
func (a *API) Events(ctx context.Context, obj client.Object, kind string) ([]Event, error) {
	var list eventsv1.EventList
	if err := a.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil, fmt.Errorf("cannot list events: %w", err)
	}
	slices.SortFunc(list.Items, func(x, y eventsv1.Event) int { return x.EventTime.Compare(y.EventTime.Time) })
	var out []Event
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == obj.GetName() {
			out = append(out, Event{Type: e.Type, Reason: e.Reason, Note: e.Note})
		}
	}
	return out, nil
}

// WaitEvent waits until an Event of the given type and reason is recorded about obj and
// returns it. Events are written asynchronously by the operator's recorder.
func (a *API) WaitEvent(t testing.TB, obj client.Object, kind, typ, reason string, timeout time.Duration) Event {
	t.Helper()
	var found Event
	kafkatest.WaitUntil(t, timeout, fmt.Sprintf("a %s event %s about %s %s", typ, reason, kind, obj.GetName()), func() error {
		evs, err := a.Events(context.Background(), obj, kind)
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range evs {
			if e.Type == typ && e.Reason == reason {
				found = e
				return nil
			}
			seen = append(seen, e.Type+"/"+e.Reason)
		}
		return fmt.Errorf("events so far: [%s]", strings.Join(seen, " "))
	})
	return found
}
