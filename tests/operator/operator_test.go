// Package operator tests the Kubernetes operator against a real kube-apiserver (envtest)
// and real `kafscale broker` processes on etcd and MinIO, which the operator reaches
// through a test address resolver: no kubelet runs, so the test plays the StatefulSet
// controller, stopping and starting the broker processes as the StatefulSet's replicas
// say (issue 17, acceptances 2, 3 and 4).
package operator

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kafscale/kafscale/control/controlpb"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/internal/testkube"
	"github.com/kafscale/kafscale/operator/api/v1alpha1"
)

// wait bounds each wait for the operator or the brokers.
const wait = 60 * time.Second

// brokers are `kafscale broker` processes 0..n-1 on one etcd and one bucket, and the
// address resolver the operator reaches them through.
type brokers struct {
	t    *testing.T
	etcd *testinfra.Etcd
	s3   testbroker.S3
	mu   sync.Mutex // guards list: the operator's goroutines read it
	list []*testbroker.Broker
}

func startBrokers(t *testing.T, n int) *brokers {
	t.Helper()
	minio := testinfra.StartMinIO(t)
	b := &brokers{t: t, etcd: testinfra.StartEtcd(t), s3: testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region,
		Bucket: minio.Bucket, AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}}
	for range n {
		b.add()
	}
	return b
}

// add starts the next broker, as the StatefulSet controller starts pod <cluster>-<n>.
func (b *brokers) add() *testbroker.Broker {
	b.mu.Lock()
	id := len(b.list)
	b.mu.Unlock()
	br := testbroker.StartBroker(b.t, b.etcd.Endpoints(), b.s3, "--broker-id", strconv.Itoa(id),
		"--flush-interval", "20ms", "--s3-request-timeout", "3s")
	b.mu.Lock()
	b.list = append(b.list, br)
	b.mu.Unlock()
	return br
}

func (b *brokers) get(id int32) *testbroker.Broker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if int(id) >= len(b.list) {
		return nil
	}
	return b.list[id]
}

// Admin resolves broker id's BrokerControl address; a broker never started is a closed port.
func (b *brokers) Admin(_ *v1alpha1.KafscaleCluster, id int32) string {
	if br := b.get(id); br != nil {
		return br.MetricsAddr
	}
	return "127.0.0.1:1"
}

// Bootstrap lists the running brokers' listeners.
func (b *brokers) Bootstrap(*v1alpha1.KafscaleCluster) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, br := range b.list {
		if br.Running() {
			out = append(out, br.Addr)
		}
	}
	return out
}

// status asks broker id for its BrokerControl Status.
func (b *brokers) status(id int32) (*controlpb.StatusResponse, error) {
	conn, err := grpc.NewClient(b.get(id).MetricsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return controlpb.NewBrokerControlClient(conn).Status(ctx, &controlpb.StatusRequest{})
}

func newNamespace(t *testing.T, api *testkube.API, name string) {
	t.Helper()
	if err := api.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func stsReplicas(api *testkube.API, ns, name string) (int32, error) {
	var sts appsv1.StatefulSet
	if err := api.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &sts); err != nil {
		return 0, err
	}
	if sts.Spec.Replicas == nil {
		return 0, errors.New("no replicas")
	}
	return *sts.Spec.Replicas, nil
}

func readyCondition(conds []metav1.Condition) error {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionTrue {
		return fmt.Errorf("not Ready: %+v", c)
	}
	return nil
}
