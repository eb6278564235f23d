package reconcile_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kafscale/kafscale/internal/testkube"
)

// TestBadSpecsAreRefusedAtAdmission guards acceptance 1: the API server itself refuses
// specs the operator could not act on, with the field named, before any reconcile. Unknown
// fields are refused with strict field validation, kubectl's default.
func TestBadSpecsAreRefusedAtAdmission(t *testing.T) {
	api := testkube.Start(t)
	ns := namespace(t, api, "admission")
	const cluster = `
apiVersion: kafscale.io/v1alpha1
kind: KafscaleCluster
metadata: {name: NAME}
spec:
  brokers: {replicas: 3, image: kafscale:test}
  storage: {bucket: kafscale}
  etcd: {endpoints: ["http://etcd:2379"]}
`
	const topic = `
apiVersion: kafscale.io/v1alpha1
kind: KafscaleTopic
metadata: {name: NAME}
spec: {clusterRef: kafka, partitions: 3}
`
	for _, tc := range []struct {
		name, base, patch, want string
	}{
		{"negative replicas", cluster, `{"spec":{"brokers":{"replicas":-1}}}`, "spec.brokers.replicas"},
		{"unknown flush setting", cluster, `{"spec":{"config":{"flushSize":1000}}}`, `unknown field "spec.config.flushSize"`},
		{"flush interval without unit", cluster, `{"spec":{"config":{"flushInterval":"100"}}}`, "spec.config.flushInterval"},
		{"tiny flush bytes", cluster, `{"spec":{"config":{"flushBytes":10}}}`, "spec.config.flushBytes"},
		{"no image", cluster, `{"spec":{"brokers":{"image":""}}}`, "spec.brokers.image"},
		{"both etcds", cluster, `{"spec":{"etcd":{"managed":true}}}`, "set exactly one of endpoints and managed"},
		{"no etcd", cluster, `{"spec":{"etcd":{"endpoints":null}}}`, "set exactly one of endpoints and managed"},
		{"autoscaling max below min", cluster, `{"spec":{"brokers":{"autoscaling":{"minReplicas":4,"maxReplicas":2}}}}`, "maxReplicas must be at least minReplicas"},
		{"storage endpoint without scheme", cluster, `{"spec":{"storage":{"endpoint":"minio:9000"}}}`, "spec.storage.endpoint"},
		{"topic without partitions", topic, `{"spec":{"partitions":null}}`, "spec.partitions: Required value"},
		{"topic with 0 partitions", topic, `{"spec":{"partitions":0}}`, "spec.partitions"},
		{"topic without cluster", topic, `{"spec":{"clusterRef":null}}`, "spec.clusterRef: Required value"},
		{"bad topic name", topic, `{"spec":{"topicName":"a/b"}}`, "spec.topicName"},
		{"unknown deletion policy", topic, `{"spec":{"deletionPolicy":"Orphan"}}`, "spec.deletionPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := object(t, strings.ReplaceAll(tc.base, "NAME", "bad"), tc.patch)
			u.SetNamespace(ns)
			err := api.Client.Create(context.Background(), u, client.FieldValidation("Strict"))
			if err == nil {
				_ = api.Client.Delete(context.Background(), u)
				t.Fatalf("accepted")
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused with %v, want an Invalid error naming %q", err, tc.want)
			}
		})
	}

	// The good ones are accepted; then updates are checked too.
	ctx := context.Background()
	good := object(t, strings.ReplaceAll(topic, "NAME", "good"), `{}`)
	good.SetNamespace(ns)
	if err := api.Client.Create(ctx, good, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("a good topic was refused: %v", err)
	}
	for _, tc := range []struct{ patch, want string }{
		{`{"spec":{"partitions":2}}`, "partitions cannot decrease"},
		{`{"spec":{"clusterRef":"other"}}`, "clusterRef cannot change"},
	} {
		err := api.Client.Patch(ctx, good, client.RawPatch("application/merge-patch+json", []byte(tc.patch)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("update %s: %v, want %q", tc.patch, err, tc.want)
		}
	}
	c := object(t, strings.ReplaceAll(cluster, "NAME", "good"), `{}`)
	c.SetNamespace(ns)
	if err := api.Client.Create(ctx, c, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("a good cluster was refused: %v", err)
	}
}

// object decodes a YAML manifest and applies a JSON merge patch to it.
func object(t *testing.T, manifest, patch string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := yaml.Unmarshal([]byte(patch), &p); err != nil {
		t.Fatal(err)
	}
	merge(m, p)
	return &unstructured.Unstructured{Object: m}
}

// merge applies a JSON merge patch (RFC 7386) in place.
func merge(dst, patch map[string]any) {
	for k, v := range patch {
		switch v := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			d, ok := dst[k].(map[string]any)
			if !ok {
				d = map[string]any{}
				dst[k] = d
			}
			merge(d, v)
		default:
			dst[k] = v
		}
	}
}
