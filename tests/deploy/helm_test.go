package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/internal/testkube"
)

const chart = "../../deploy/helm/kafscale-operator"

// helm returns the helm binary scripts/test-deps.sh builds, failing the test without it.
func helm(t *testing.T) string {
	t.Helper()
	p := filepath.Join(testinfra.BinDir(), "helm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no helm in %s; run scripts/test-deps.sh to build it", testinfra.BinDir())
	}
	return p
}

// TestHelmChart guards issue 17's acceptance 5 for the chart: `helm lint --strict` passes,
// `helm template` renders objects that a real kube-apiserver accepts (server-side apply,
// dry run), and the chart's CRDs and ClusterRole are the generated ones of deploy/.
func TestHelmChart(t *testing.T) {
	h := helm(t)
	if out, err := exec.Command(h, "lint", "--strict", chart).CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(h, "template", "kafscale-operator", chart, "--namespace", "kafscale-system", "--include-crds")
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	api := testkube.Start(t)
	ctx := context.Background()
	if err := api.Client.Create(ctx, testkube.ParseManifests(t, "namespace", []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: kafscale-system}\n"))[0].Object); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, m := range testkube.ParseManifests(t, "helm template", rendered) {
		if err := api.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(m.Object), client.FieldOwner("helm"),
			client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("%s: %v", m, err)
		}
		kinds[m.Object.GetKind()]++
	}
	for _, k := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "Deployment"} {
		if kinds[k] == 0 {
			t.Errorf("helm template rendered no %s", k)
		}
	}
	t.Logf("helm template: %v", kinds)

	for copyOf, original := range map[string]string{
		chart + "/crds/kafscale.io_kafscaleclusters.yaml": "../../deploy/crds/kafscale.io_kafscaleclusters.yaml",
		chart + "/crds/kafscale.io_kafscaletopics.yaml":   "../../deploy/crds/kafscale.io_kafscaletopics.yaml",
		chart + "/templates/role.yaml":                    "../../deploy/operator/role.yaml",
	} {
		a, errA := os.ReadFile(copyOf)
		b, errB := os.ReadFile(original)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not a copy of %s (%v, %v): run make crds", copyOf, original, errA, errB)
		}
	}
}
