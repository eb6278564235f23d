package v1alpha1_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCommittedCRDsAreCurrent fails when deploy/crds no longer matches the Go types: the
// schema the API server validates with must be the one this package describes. `make crds`
// regenerates them.
func TestCommittedCRDsAreCurrent(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "tool", "controller-gen", "crd:crdVersions=v1", "paths=.", "output:crd:dir="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, b)
	}
	committed := filepath.Join("..", "..", "..", "deploy", "crds")
	generated, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) == 0 {
		t.Fatal("controller-gen generated no CRD")
	}
	for _, f := range generated {
		want, err := os.ReadFile(filepath.Join(out, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(committed, f.Name()))
		if err != nil {
			t.Errorf("deploy/crds/%s is missing: run make crds", f.Name())
			continue
		}
		if string(got) != string(want) {
			t.Errorf("deploy/crds/%s differs from what the Go types generate: run make crds", f.Name())
		}
	}
	if entries, _ := os.ReadDir(committed); len(entries) != len(generated) {
		t.Errorf("deploy/crds holds %d files, the Go types generate %d: run make crds", len(entries), len(generated))
	}
}

// TestCommittedRoleIsCurrent fails when deploy/operator/role.yaml no longer matches the
// reconcilers' RBAC markers (operator/reconcile), the operator's whole set of permissions.
func TestCommittedRoleIsCurrent(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "tool", "controller-gen", "rbac:roleName=kafscale-operator", "paths=../../reconcile/...", "output:rbac:dir="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(filepath.Join(out, "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "operator", "role.yaml"))
	if err != nil || string(got) != string(want) {
		t.Errorf("deploy/operator/role.yaml differs from the RBAC markers of operator/reconcile (%v): run make crds", err)
	}
}
