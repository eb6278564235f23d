// Package testkube starts a real Kubernetes API server for tests (controller-runtime's
// envtest, with the kube-apiserver and etcd binaries scripts/test-deps.sh builds), with
// KafScale's CRDs from deploy/crds installed.
package testkube

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// API is a running kube-apiserver (and its etcd) with the CRDs installed.
type API struct {
	Config *rest.Config
	Scheme *k8sruntime.Scheme
	// Client reads and writes directly (no cache), as the test's own kubectl: an
	// administrator.
	Client client.Client

	env *envtest.Environment
}

// RepoDir is the repository's root, found from this file's path.
func RepoDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts a kube-apiserver on free loopback ports with its data in temporary
// directories, installs deploy/crds, and stops it when the test ends. It fails the test
// (never skips it) when the binaries are missing.
func Start(t testing.TB) *API {
	t.Helper()
	bin := testinfra.BinDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Fatalf("testkube: no %s in %s; run scripts/test-deps.sh to build it", name, bin)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: bin,
		CRDDirectoryPaths:     []string{filepath.Join(RepoDir(), "deploy", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	// envtest reads KUBEBUILDER_ASSETS before BinaryAssetsDirectory; a stray one from the
	// caller's shell must not pick other binaries.
	t.Setenv("KUBEBUILDER_ASSETS", bin)
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("testkube: cannot start kube-apiserver and etcd from %s: %v", bin, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("testkube: cannot stop kube-apiserver: %v", err)
		}
	})
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("testkube: cannot create a client: %v", err)
	}
	return &API{Config: cfg, Scheme: scheme, Client: cl, env: env}
}
