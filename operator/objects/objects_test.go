package objects

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

func cluster() *v1alpha1.KafscaleCluster {
	return &v1alpha1.KafscaleCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "kafka"},
		Spec: v1alpha1.KafscaleClusterSpec{Brokers: v1alpha1.BrokersSpec{Image: "img"},
			Storage: v1alpha1.StorageSpec{Bucket: "b"}, Etcd: v1alpha1.EtcdSpec{Endpoints: []string{"http://e:2379"}}}}
}

func envOf(c *v1alpha1.KafscaleCluster) map[string]string {
	out := map[string]string{}
	for _, e := range BrokerStatefulSet(c, 1).Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

// TestAdvertisedListener: each broker advertises its own name: the pod's headless-Service
// name by default, or the template with {{ID}} replaced by the pod's ordinal, which the
// kubelet expands from POD_INDEX (defined before it).
func TestAdvertisedListener(t *testing.T) {
	for _, tc := range []struct {
		name     string
		listener v1alpha1.ListenerSpec
		want     string
	}{
		{"default", v1alpha1.ListenerSpec{}, "$(POD_NAME).kafka-brokers.ns.svc:9092"},
		{"port", v1alpha1.ListenerSpec{Port: 19092}, "$(POD_NAME).kafka-brokers.ns.svc:19092"},
		{"template", v1alpha1.ListenerSpec{AdvertisedHostTemplate: "b{{ID}}.example.com", AdvertisedPort: 443}, "b$(POD_INDEX).example.com:443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster()
			c.Spec.Brokers.Listener = tc.listener
			if got := envOf(c)["KAFSCALE_ADVERTISED_LISTENER"]; got != tc.want {
				t.Errorf("advertised listener %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConfigHashFollowsSettings: the hash changes with any broker setting and only then,
// so that the StatefulSet rolls the brokers exactly when they need new settings.
func TestConfigHashFollowsSettings(t *testing.T) {
	hash := func(c *v1alpha1.KafscaleCluster) string {
		return BrokerStatefulSet(c, 3).Spec.Template.Annotations[ConfigHashAnnotation]
	}
	base := hash(cluster())
	if again := hash(cluster()); again != base {
		t.Fatalf("the same spec hashes to %s and %s", base, again)
	}
	c := cluster()
	c.Spec.Brokers.Replicas = new(int32(7))
	if hash(c) != base {
		t.Error("replicas changed the config hash: scaling would roll every broker")
	}
	for name, change := range map[string]func(*v1alpha1.KafscaleCluster){
		"flush interval": func(c *v1alpha1.KafscaleCluster) { c.Spec.Config.FlushInterval = "5ms" },
		"image":          func(c *v1alpha1.KafscaleCluster) { c.Spec.Brokers.Image = "img2" },
		"bucket":         func(c *v1alpha1.KafscaleCluster) { c.Spec.Storage.Bucket = "b2" },
		"etcd":           func(c *v1alpha1.KafscaleCluster) { c.Spec.Etcd.Endpoints = []string{"http://f:2379"} },
		"secret":         func(c *v1alpha1.KafscaleCluster) { c.Spec.Storage.CredentialsSecret = "s" },
		"pull policy":    func(c *v1alpha1.KafscaleCluster) { c.Spec.Brokers.ImagePullPolicy = corev1.PullAlways },
	} {
		c := cluster()
		change(c)
		if hash(c) == base {
			t.Errorf("changing the %s left the config hash as it was", name)
		}
	}
}
