package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAuthorizationRulesNameRegisteredAPIs: a rule for an API that is not served is a
// typo, and would leave the real API without one (closed under --authorizer).
func TestAuthorizationRulesNameRegisteredAPIs(t *testing.T) {
	for key := range rules {
		if _, ok := apis[key]; !ok {
			t.Errorf("authorize.go has a rule for %s, which is not registered", kmsg.NameForKey(key))
		}
	}
}
