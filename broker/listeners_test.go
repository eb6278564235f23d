package broker

import (
	"testing"

	"github.com/kafscale/kafscale/meta/metapb"
)

// TestEndpointOfFallsBackForOldRegistrations guards rolling upgrades: a broker registered
// before named listeners (no listeners) is named by its host and port on every listener,
// and a listener another broker lacks falls back the same way.
func TestEndpointOfFallsBackForOldRegistrations(t *testing.T) {
	named := &metapb.Broker{Id: 1, Host: "in-1", Port: 9092, Listeners: []*metapb.AdvertisedListener{
		{Name: "INTERNAL", Host: "in-1", Port: 9092}, {Name: "EXTERNAL", Host: "out-1.example", Port: 9094}}}
	old := &metapb.Broker{Id: 2, Host: "in-2", Port: 9092}
	for _, tc := range []struct {
		br       *metapb.Broker
		listener string
		host     string
		port     int32
	}{
		{named, "EXTERNAL", "out-1.example", 9094},
		{named, "INTERNAL", "in-1", 9092},
		{named, "PLAINTEXT", "in-1", 9092},
		{old, "EXTERNAL", "in-2", 9092},
	} {
		if h, p := endpointOf(tc.br, tc.listener); h != tc.host || p != tc.port {
			t.Errorf("broker %d on %s: %s:%d, want %s:%d", tc.br.Id, tc.listener, h, p, tc.host, tc.port)
		}
	}
}
