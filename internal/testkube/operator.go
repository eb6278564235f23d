package testkube

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kafscale/kafscale/internal/logbuf"
	"github.com/kafscale/kafscale/operator/reconcile"
)

// StartOperator runs the operator's reconcilers in this process against api, reaching
// brokers through addrs, until the test ends; its log is shown if the test failed.
func StartOperator(t testing.TB, api *API, addrs reconcile.Addresses) {
	t.Helper()
	var log logbuf.Buffer
	logger := zap.New(zap.UseDevMode(true), zap.WriteTo(&log))
	ctrl.SetLogger(logr.Discard()) // controller-runtime's global one, used before a manager's
	mgr, err := ctrl.NewManager(api.Config, ctrl.Options{
		Scheme:                 api.Scheme,
		Logger:                 logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Each test starts its own manager in one process: controller names repeat.
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatalf("testkube: cannot create the controller manager: %v", err)
	}
	cluster := &reconcile.Cluster{Client: mgr.GetClient(), Scheme: api.Scheme, Addresses: addrs, DrainCallTimeout: 2 * time.Second}
	if err := cluster.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&reconcile.Topic{Client: mgr.GetClient(), Addresses: addrs}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the operator stopped with %v", err)
		}
		if t.Failed() {
			t.Logf("operator log (last 16 KiB):\n%s", log.Tail(16<<10))
		}
	})
}
