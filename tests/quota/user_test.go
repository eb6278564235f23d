package quota

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestUserQuotaSharedByClientIDs: over SASL/PLAIN, a producer_byte_rate set for user alice
// holds her two producers (two client ids) to the quota together, as Kafka's user quota
// is shared by all of a user's client ids; bob, without quota, is not throttled.
func TestUserQuotaSharedByClientIDs(t *testing.T) {
	f := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(f, []byte("alice:alice-secret\nbob:bob-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, internal := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	testbroker.Start(t, append([]string{"--listeners", "INTERNAL://" + internal + ",SASL://" + addr,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT",
		"--sasl-enabled-mechanisms", "PLAIN", "--sasl-plain-users-file", f}, windowArgs...)...)
	login := func(user string) kgo.Opt {
		return kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism())
	}
	const topic = "quota-user"
	kafkatest.CreateTopic(t, internal, topic, 1)
	setQuota(t, internal, "user", "alice", "producer_byte_rate", quotaRate)

	newProducer := func(user, id string, h *throttles) *kgo.Client {
		return kafkatest.NewIdempotentProducer(t, addr, login(user), kgo.ClientID(id), kgo.WithHooks(h),
			kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
			kgo.ProducerBatchMaxBytes(16<<10), kgo.MaxBufferedRecords(32), kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	var a1, a2, b throttles
	var aliceAcked, bobAcked atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 3)
	start := time.Now()
	for _, p := range []*kgo.Client{newProducer("alice", "alice-1", &a1), newProducer("alice", "alice-2", &a2)} {
		go func() { produceFor(ctx, t, p, topic, &aliceAcked); done <- struct{}{} }()
	}
	go func() { produceFor(ctx, t, newProducer("bob", "bob-1", &b), topic, &bobAcked); done <- struct{}{} }()
	rate := rateBetween(t, start, aliceAcked.Load)
	cancel()
	for range 3 {
		<-done
	}

	t.Logf("alice's two producers: %.0f B/s together against her %d B/s quota, %d and %d throttles; bob: %d bytes, %d throttles",
		rate, quotaRate, a1.n.Load(), a2.n.Load(), bobAcked.Load(), b.n.Load())
	if ratio := rate / quotaRate; ratio < 1-tolerance || ratio > 1+tolerance {
		t.Errorf("alice's producers together are at %.2f of her quota, want within %.0f%%", ratio, tolerance*100)
	}
	if a1.n.Load() == 0 || a2.n.Load() == 0 {
		t.Errorf("alice's producers saw %d and %d throttles, want both throttled", a1.n.Load(), a2.n.Load())
	}
	if b.n.Load() != 0 || bobAcked.Load() == 0 {
		t.Errorf("bob, without quota: %d throttles, %d bytes acked", b.n.Load(), bobAcked.Load())
	}
}
