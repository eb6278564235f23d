package deploy

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kafscale/kafscale/internal/testkube"
)

// TestManifestsPassServerSideDryRun guards issue 17's acceptance 5: every object of
// deploy/crds, deploy/operator and deploy/examples is accepted by a real kube-apiserver
// (server-side apply, dry run, strict field validation as kubectl does), CRDs installed:
// no unknown field, no invalid value, a KafscaleCluster and topic the schema accepts.
func TestManifestsPassServerSideDryRun(t *testing.T) {
	api := testkube.Start(t)
	ctx := context.Background()
	var all []testkube.Manifest
	for _, dir := range []string{"deploy/crds", "deploy/operator", "deploy/examples"} {
		all = append(all, testkube.ReadManifests(t, dir)...)
	}
	// A dry run creates nothing, so the namespaces the other objects go in are made first.
	for _, m := range all {
		if m.Object.GetKind() == "Namespace" {
			if err := api.Client.Create(ctx, m.Object.DeepCopy()); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
		}
	}
	kinds := map[string]int{}
	for _, m := range all {
		err := api.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(m.Object), client.FieldOwner("kubectl"),
			client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("%s: %v", m, err)
		}
		kinds[m.Object.GetKind()]++
	}
	for _, k := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Deployment", "KafscaleCluster", "KafscaleTopic"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in deploy/", k)
		}
	}
	t.Logf("%d objects dry-run: %v", len(all), kinds)
}
