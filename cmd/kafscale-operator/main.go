// Command kafscale-operator runs KafScale's Kubernetes operator: it reconciles
// KafscaleCluster and KafscaleTopic resources (operator/reconcile) and drains brokers
// before a scale-down removes their pods (docs/kubernetes.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
	"github.com/kafscale/kafscale/operator/reconcile"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafscale-operator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kafscale-operator", flag.ContinueOnError)
	metricsAddr := fs.String("metrics-bind-address", ":8080", "host:port serving the operator's Prometheus metrics (0 disables)")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "host:port serving /healthz and /readyz")
	leaderElect := fs.Bool("leader-elect", true, "elect one active operator among replicas through a Lease")
	logFormat := fs.String("log-format", "json", "json or text")
	drainCall := fs.Duration("drain-call-timeout", 5*time.Second, "bound of one BrokerControl Drain call; a longer drain is asked again until the cluster's drainTimeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *logFormat {
	case "json":
		ctrl.SetLogger(zap.New(zap.UseDevMode(false)))
	case "text":
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	default:
		return fmt.Errorf("--log-format must be json or text (set to %q)", *logFormat)
	}
	if *drainCall <= 0 {
		return fmt.Errorf("--drain-call-timeout must be >0 (set to %s)", *drainCall)
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("BUG: cannot register Kubernetes' types: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("BUG: cannot register kafscale.io/v1alpha1: %w", err)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("cannot find the Kubernetes API server: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       "kafscale-operator.kafscale.io",
	})
	if err != nil {
		return fmt.Errorf("cannot create the controller manager: %w", err)
	}
	addrs := reconcile.ServiceAddresses{}
	if err := (&reconcile.Cluster{Client: mgr.GetClient(), Scheme: scheme, Addresses: addrs, DrainCallTimeout: *drainCall}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("cannot set up the KafscaleCluster reconciler: %w", err)
	}
	if err := (&reconcile.Topic{Client: mgr.GetClient(), Addresses: addrs}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("cannot set up the KafscaleTopic reconciler: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("BUG: cannot add the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("BUG: cannot add the readiness check: %w", err)
	}
	ctrl.Log.Info("starting kafscale-operator")
	return mgr.Start(ctrl.SetupSignalHandler())
}
