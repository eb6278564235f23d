package compat

import (
	"testing"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// realBroker says whether startBroker runs KafScale itself rather than franz-go's kfake.
// It enables the hostile cases kfake cannot survive (see hostileCases), which must pass.
var realBroker = true

// startBroker starts a fresh `kafscale dev` process for one test (its data in a temporary
// directory, stopped by t.Cleanup) and returns its Kafka address as 127.0.0.1:port.
func startBroker(t *testing.T) (addr string) {
	t.Helper()
	if devClusterBrokers > 1 {
		return startDevCluster(t, devClusterBrokers)
	}
	return testbroker.Start(t).Addr
}

// devClusterBrokers, when above 1, makes startBroker start `kafscale dev --brokers N`
// instead (TestClientsAgainstDevCluster).
var devClusterBrokers = 1
