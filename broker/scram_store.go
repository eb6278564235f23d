package broker

import (
	"context"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/sasl"
)

// scramMechanisms maps AlterUserScramCredentials' and DescribeUserScramCredentials'
// mechanism numbers (Kafka's ScramMechanism) to names.
var scramMechanisms = map[int8]string{1: sasl.ScramSHA256, 2: sasl.ScramSHA512}

func scramMechanismCode(name string) int8 {
	for k, v := range scramMechanisms {
		if v == name {
			return k
		}
	}
	return 0
}

// ScramStore returns the SCRAM credentials kept in etcd (scram/<mechanism>/<user>), for
// the SASL listeners. Each login reads etcd, so a user created or changed through any
// broker of the cluster is seen by every broker at once.
func ScramStore(ms *meta.Store) sasl.ScramStore { return scramStore{ms} }

type scramStore struct{ ms *meta.Store }

func (s scramStore) ScramCredential(ctx context.Context, mechanism, user string) (sasl.ScramCredential, bool, error) {
	c, err := s.ms.ScramCredential(ctx, mechanism, user)
	if err != nil || c == nil {
		return sasl.ScramCredential{}, false, err
	}
	return sasl.ScramCredential{Salt: c.GetSalt(), StoredKey: c.GetStoredKey(), ServerKey: c.GetServerKey(),
		Iterations: int(c.GetIterations())}, true, nil
}
