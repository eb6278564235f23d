package testkube

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Manifest is one object of a YAML file.
type Manifest struct {
	File   string // path relative to the repository
	Object *unstructured.Unstructured
}

// ReadManifests reads every object of the .yaml files in dir (relative to the repository),
// in file order, failing the test on a document that is not a Kubernetes object.
func ReadManifests(t testing.TB, dir string) []Manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(RepoDir(), dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("testkube: no manifests in %s (%v)", dir, err)
	}
	var out []Manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(RepoDir(), f)
		out = append(out, ParseManifests(t, rel, b)...)
	}
	return out
}

// ParseManifests decodes the objects of a multi-document YAML text (named file in failures),
// failing the test on a document that is not a Kubernetes object.
func ParseManifests(t testing.TB, file string, b []byte) []Manifest {
	t.Helper()
	var out []Manifest
	for i, doc := range splitYAML(b) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s, document %d: %v", file, i+1, err)
		}
		if m == nil {
			continue // only comments
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			t.Fatalf("%s, document %d: no kind, apiVersion or name", file, i+1)
		}
		out = append(out, Manifest{File: file, Object: u})
	}
	return out
}

// splitYAML splits a multi-document YAML file at its "---" lines.
func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.Bytes())
}

// String names a manifest in failures.
func (m Manifest) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", m.Object.GetKind(), m.Object.GetNamespace(), m.Object.GetName(), m.File)
}
