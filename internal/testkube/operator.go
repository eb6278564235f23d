package testkube

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
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
	mgr, err := ctrl.NewManager(operatorConfig(t, api), ctrl.Options{
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

// operatorUser is the operator's service account as the API server names it.
const operatorUser = "system:serviceaccount:kafscale-system:kafscale-operator"

// operatorConfig returns a client config for a user with exactly the operator's
// ClusterRole (deploy/operator/role.yaml), so that the tests fail when the operator needs a
// permission the deployed RBAC does not give it.
func operatorConfig(t testing.TB, api *API) *rest.Config {
	t.Helper()
	return operatorUserOf(t, api).Config()
}

// OperatorKubeconfig returns a kubeconfig for the operator's user (see operatorConfig),
// for running the kafscale-operator binary against api.
func OperatorKubeconfig(t testing.TB, api *API) []byte {
	t.Helper()
	b, err := operatorUserOf(t, api).KubeConfig()
	if err != nil {
		t.Fatalf("testkube: cannot write a kubeconfig: %v", err)
	}
	return b
}

func operatorUserOf(t testing.TB, api *API) *envtest.AuthenticatedUser {
	t.Helper()
	ctx := context.Background()
	for _, m := range ReadManifests(t, "deploy/operator") {
		if m.Object.GetKind() != "ClusterRole" {
			continue
		}
		if err := api.Client.Create(ctx, m.Object); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("testkube: cannot create %s: %v", m, err)
		}
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: m.Object.GetName()},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: m.Object.GetName()},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: operatorUser}},
		}
		if err := api.Client.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("testkube: cannot bind %s: %v", m, err)
		}
	}
	user, err := api.env.AddUser(envtest.User{Name: operatorUser}, api.Config)
	if err != nil {
		t.Fatalf("testkube: cannot add the operator's user: %v", err)
	}
	return user
}
