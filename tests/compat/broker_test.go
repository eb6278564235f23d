package compat

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// realBroker says whether startBroker runs KafScale itself rather than franz-go's kfake.
// Flip it together with startBroker's body: it enables the hostile cases kfake cannot
// survive (see hostileCases), which must then pass, not be skipped.
var realBroker = false

// startBroker starts a fresh single-broker cluster for one test and returns its Kafka
// address as 127.0.0.1:port. The broker must allow automatic topic creation when a
// client asks for it, and must be stopped by a t.Cleanup registered here.
//
// This is the one hook to change to test KafScale instead of kfake.
func startBroker(t *testing.T) (addr string) {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
	)
	if err != nil {
		t.Fatalf("cannot start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		t.Fatalf("BUG: kfake with one broker listens on %d addresses: %v", len(addrs), addrs)
	}
	return addrs[0]
}
