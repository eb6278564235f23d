package operator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
	"github.com/kafscale/kafscale/operator/objects"
)

// TestBrokerPodTemplateStartsABroker guards the broker StatefulSet's pod template: its
// command and environment, expanded as the kubelet expands them for pod kafka-1 (field
// references, $(VAR) references, the credentials Secret), start a real `kafscale broker`
// that serves as broker id 1 on the spec's etcd and bucket with the spec's settings. Only
// the listen addresses are moved to free loopback ports (the pod's 0.0.0.0:9092 is taken on
// a shared machine) and the advertised host to 127.0.0.1 (no cluster DNS here). Its preStop
// hook, run with the same environment, drains the broker to another one.
func TestBrokerPodTemplateStartsABroker(t *testing.T) {
	etcd := testinfra.StartEtcd(t)
	minio := testinfra.StartMinIO(t)
	c := &v1alpha1.KafscaleCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "kafka"},
		Spec: v1alpha1.KafscaleClusterSpec{
			Brokers: v1alpha1.BrokersSpec{Image: "kafscale:test"},
			Storage: v1alpha1.StorageSpec{Bucket: minio.Bucket, Endpoint: minio.Endpoint, Region: minio.Region, CredentialsSecret: "s3"},
			Etcd:    v1alpha1.EtcdSpec{Endpoints: etcd.Endpoints()},
			Config:  v1alpha1.BrokerConfig{FlushInterval: "30ms", FlushBytes: new(int64(1 << 20))},
		}}
	sts := objects.BrokerStatefulSet(c, 3)
	container := sts.Spec.Template.Spec.Containers[0]
	addr, admin := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	pod := map[string]string{"metadata.name": "kafka-1", "metadata.labels['" + objects.LabelPodIndex + "']": "1"}
	secret := map[string]string{"AWS_ACCESS_KEY_ID": minio.AccessKey, "AWS_SECRET_ACCESS_KEY": minio.SecretKey}
	env := expandEnv(t, container.Env, pod, secret)
	for k, v := range map[string]string{"KAFSCALE_LISTEN": addr, "KAFSCALE_METRICS_LISTEN": admin, "KAFSCALE_ADVERTISED_LISTENER": "127.0.0.1:" + port} {
		if _, ok := env[k]; !ok {
			t.Fatalf("the pod template sets no %s", k)
		}
		env[k] = v
	}
	if env["KAFSCALE_BROKER_ID"] != "kafka-1" || env["KAFSCALE_FLUSH_INTERVAL"] != "30ms" {
		t.Errorf("environment %v", env)
	}
	if container.Command[0] != "/kafscale" {
		t.Fatalf("command %v", container.Command)
	}
	cmd := exec.Command(testbroker.Binary(t), container.Command[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var log logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("broker log:\n%s", log.Tail(8<<10))
		}
	})
	kafkatest.WaitUntil(t, wait, "/readyz of the broker", func() error {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	b := &brokers{t: t, list: []*testbroker.Broker{{Process: &testbroker.Process{MetricsAddr: admin}}}}
	st, err := b.status(0)
	if err != nil {
		t.Fatal(err)
	}
	if st.BrokerId != 1 || !st.Ready {
		t.Errorf("Status of the broker the pod template starts: %v, want broker 1, ready", st)
	}
	kafkatest.CreateTopic(t, addr, "podspec", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text, err := kafkatest.ScrapeMetrics(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "kafscale_") {
		t.Error("the broker's /metrics has no kafscale_ metric")
	}
	// The preStop hook drains the broker through BrokerControl before the kubelet's
	// SIGTERM: with broker 0 on the same etcd and bucket, broker 1's partitions move there.
	s3 := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket, AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	testbroker.StartBroker(t, etcd.Endpoints(), s3, "--broker-id", "0", "--etcd-prefix", env["KAFSCALE_ETCD_PREFIX"])
	kafkatest.CreateTopic(t, addr, "prestop", 8)
	kafkatest.WaitUntil(t, wait, "broker 1 to lead partitions", func() error {
		st, err := b.status(0)
		if err != nil {
			return err
		}
		if st.PartitionsLed == 0 {
			return fmt.Errorf("broker 1: %v", st)
		}
		return nil
	})
	hook := container.Lifecycle.PreStop.Exec.Command
	if hook[0] != "/kafscale" {
		t.Fatalf("preStop %v", hook)
	}
	args := slices.Clone(hook[1:])
	i := slices.Index(args, "--admin")
	if i < 0 || args[i+1] != "127.0.0.1:9093" {
		t.Fatalf("the preStop hook %v does not ask the pod's own admin port", hook)
	}
	args[i+1] = admin // moved, as the listen address was
	pre := exec.Command(testbroker.Binary(t), args...)
	pre.Env = cmd.Env // the container's environment
	if out, err := pre.CombinedOutput(); err != nil {
		t.Fatalf("preStop hook %v: %v\n%s", hook, err, out)
	} else {
		t.Logf("preStop hook: %s", strings.TrimSpace(string(out)))
	}
	st, err = b.status(0)
	if err != nil {
		t.Fatal(err)
	}
	if st.PartitionsLed != 0 || st.CoordinatorSlots != 0 || !st.Draining {
		t.Errorf("after the preStop hook, broker 1: %v, want draining and leading nothing", st)
	}

	// JSON logs, as the pod template asks.
	first := strings.SplitN(log.Tail(1<<20), "\n", 2)[0]
	if !strings.HasPrefix(first, "{") {
		t.Errorf("the broker's first log line is not JSON: %q", first)
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandEnv resolves a container's environment as the kubelet does: field references from
// pod, Secret keys from secret, and $(VAR) references to variables defined before.
func expandEnv(t *testing.T, vars []corev1.EnvVar, pod, secret map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range vars {
		switch {
		case v.ValueFrom == nil:
			out[v.Name] = envRef.ReplaceAllStringFunc(v.Value, func(ref string) string {
				name := envRef.FindStringSubmatch(ref)[1]
				if val, ok := out[name]; ok {
					return val
				}
				return ref // the kubelet leaves an undefined reference as it is
			})
		case v.ValueFrom.FieldRef != nil:
			val, ok := pod[v.ValueFrom.FieldRef.FieldPath]
			if !ok {
				t.Fatalf("%s: the test does not know field %s", v.Name, v.ValueFrom.FieldRef.FieldPath)
			}
			out[v.Name] = val
		case v.ValueFrom.SecretKeyRef != nil:
			out[v.Name] = secret[v.ValueFrom.SecretKeyRef.Key]
		default:
			t.Fatalf("%s: unexpected source %+v", v.Name, v.ValueFrom)
		}
	}
	return out
}
