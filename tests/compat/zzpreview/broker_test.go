package compat

import (
	"testing"

	"github.com/kafscale/kafscale/internal/testbroker"
)

var realBroker = true

func startBroker(t *testing.T) (addr string) {
	t.Helper()
	return testbroker.Start(t).Addr
}
