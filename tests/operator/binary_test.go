package operator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
	"github.com/kafscale/kafscale/internal/testkube"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// TestOperatorBinary guards acceptance 6 and the binary itself: cmd/kafscale-operator,
// run as its deployed ServiceAccount would be (only its ClusterRole) against a real
// kube-apiserver, reconciles a cluster, writes JSON logs, serves /healthz, /readyz and
// Prometheus metrics with reconcile counts, errors and durations per controller, and
// stops cleanly on SIGTERM.
func TestOperatorBinary(t *testing.T) {
	api := testkube.Start(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "kafscale-operator")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/kafscale-operator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kafscale-operator: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, testkube.OperatorKubeconfig(t, api), 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr, probeAddr := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	var log logbuf.Buffer
	cmd := exec.Command(bin, "--leader-elect=false", "--metrics-bind-address", metricsAddr, "--health-probe-bind-address", probeAddr)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("kafscale-operator log:\n%s", log.Tail(16<<10))
		}
	})

	for _, path := range []string{"/healthz", "/readyz"} {
		kafkatest.WaitUntil(t, wait, path, func() error { return httpOK("http://" + probeAddr + path) })
	}
	newNamespace(t, api, "binary")
	replicas := int32(1)
	c := &v1alpha1.KafscaleCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "binary", Name: "kafka"},
		Spec: v1alpha1.KafscaleClusterSpec{
			Brokers: v1alpha1.BrokersSpec{Replicas: &replicas, Image: "kafscale:test"},
			Storage: v1alpha1.StorageSpec{Bucket: "kafscale"},
			Etcd:    v1alpha1.EtcdSpec{Endpoints: []string{"http://etcd:2379"}}}}
	if err := api.Client.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitUntil(t, wait, "the broker StatefulSet", func() error {
		_, err := stsReplicas(api, "binary", "kafka")
		return err
	})
	kafkatest.WaitUntil(t, wait, "reconcile metrics", func() error {
		text, err := kafkatest.ScrapeMetrics(context.Background(), metricsAddr)
		if err != nil {
			return err
		}
		for _, series := range []string{
			`controller_runtime_reconcile_total{controller="kafscalecluster",result="success"}`,
			`controller_runtime_reconcile_errors_total{controller="kafscalecluster"}`,
			`controller_runtime_reconcile_time_seconds_count{controller="kafscalecluster"}`,
			`controller_runtime_reconcile_total{controller="kafscaletopic",result="success"}`,
			`kafscale_operator_drains_total{result="timed_out"} 0`,
			`kafscale_operator_drain_duration_seconds_count 0`,
			`kafscale_operator_topic_changes_total{change="created"} 0`,
		} {
			if !strings.Contains(text, series) {
				return fmt.Errorf("no %s in the scrape", series)
			}
		}
		if v := kafkatest.MetricSample(text, `controller_runtime_reconcile_total{controller="kafscalecluster",result="success"}`); v < 1 {
			return fmt.Errorf("%v successful cluster reconciles", v)
		}
		return nil
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("kafscale-operator exited with %v after SIGTERM", err)
		}
	case <-time.After(wait):
		t.Fatal("kafscale-operator did not stop after SIGTERM")
	}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader([]byte(log.Tail(1 << 30))))
	for sc.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil || entry["msg"] == nil || entry["level"] == nil {
			t.Errorf("log line is not a JSON entry with msg and level: %q", sc.Text())
			continue
		}
		lines++
	}
	if lines == 0 {
		t.Error("the operator logged nothing")
	}
}

func httpOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
