package quota

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestQuotaAPIsUnderAuthorizer: with --authorizer, AlterClientQuotas needs ALTER_CONFIGS
// and DescribeClientQuotas DESCRIBE_CONFIGS on the cluster (as Kafka): alice without ACLs
// gets CLUSTER_AUTHORIZATION_FAILED for both, and may do both once granted ALTER_CONFIGS
// (which implies DESCRIBE_CONFIGS).
func TestQuotaAPIsUnderAuthorizer(t *testing.T) {
	f := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(f, []byte("admin:admin-secret\nalice:alice-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, internal := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	testbroker.Start(t, "--listeners", "INTERNAL://"+internal+",SASL://"+addr,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT",
		"--sasl-enabled-mechanisms", "PLAIN", "--sasl-plain-users-file", f,
		"--authorizer", "--super-users", "User:admin")
	adminOf := func(user string) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(1),
			kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	name := "app"
	entry := []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}},
		Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1000}}}}
	alter := func(adm *kadm.Client) error {
		res, err := adm.AlterClientQuotas(ctx, entry)
		if err != nil {
			return err
		}
		return res[0].Err
	}
	describe := func(adm *kadm.Client) error {
		_, err := adm.DescribeClientQuotas(ctx, false, nil)
		return err
	}
	alice, admin := adminOf("alice"), adminOf("admin")
	if err := alter(alice); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("alice without ACLs: AlterClientQuotas: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	if err := describe(alice); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("alice without ACLs: DescribeClientQuotas: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	if err := alter(admin); err != nil {
		t.Fatalf("super user: AlterClientQuotas: %v", err)
	}
	acl := kadm.NewACLs().Clusters().Allow("User:alice").Operations(kadm.OpAlterConfigs)
	res, err := admin.CreateACLs(ctx, acl)
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("cannot grant alice ALTER_CONFIGS on the cluster: %v", err)
	}
	kafkatest.WaitFor(t, 10*time.Second, "alice to be allowed to alter and describe quotas", func() bool {
		return alter(alice) == nil && describe(alice) == nil
	})
}
