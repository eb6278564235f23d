package quota

import (
	"fmt"
	"math"
	"strings"
)

// Quota keys, as Kafka names them. The byte rates and the request percentage are
// enforced; the others Kafka knows are refused by Check rather than stored and ignored.
const (
	ProducerByteRate = "producer_byte_rate"
	ConsumerByteRate = "consumer_byte_rate"
	// RequestPercentage is KIP-124's request quota: the percentage of one request
	// handler's time per second (100: one whole handler) a client may use.
	RequestPercentage = "request_percentage"
)

// notEnforced are Kafka's other client quota keys.
var notEnforced = map[string]bool{
	"controller_mutation_rate": true,
	"connection_creation_rate": true,
}

// enforced names the keys KafScale enforces, for error messages.
var enforced = ProducerByteRate + ", " + ConsumerByteRate + " and " + RequestPercentage

// Check reports what is wrong with setting key to v. The byte rates are whole bytes per
// second (Kafka's LONG quota configs); request_percentage is any finite percentage >0
// (Kafka's DOUBLE), above 100 too, as Kafka allows: 200 is two handlers' time.
func Check(key string, v float64) error {
	switch {
	case notEnforced[key]:
		return fmt.Errorf("quota %s is not enforced by KafScale (only %s are)", key, enforced)
	case key == RequestPercentage:
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return fmt.Errorf("quota %s must be a percentage >0 (set to %v)", key, v)
		}
	case key != ProducerByteRate && key != ConsumerByteRate:
		return fmt.Errorf("unknown quota key %q (KafScale enforces %s)", key, enforced)
	case math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v != math.Trunc(v) || v > math.MaxInt64:
		return fmt.Errorf("quota %s must be a whole number of bytes per second >0 (set to %v)", key, v)
	}
	return nil
}

// Part is one component of a quota entity: absent, the default (<default>), or a name.
type Part struct {
	Present bool
	Default bool
	Name    string
}

// Named returns the Part of name, Default the default Part.
func Named(name string) Part { return Part{Present: true, Name: name} }

// Default is the <default> Part.
var Default = Part{Present: true, Default: true}

// String returns the Part as kafka-configs shows it.
func (p Part) String() string {
	switch {
	case !p.Present:
		return "-"
	case p.Default:
		return "<default>"
	}
	return p.Name
}

// Entity is what a quota applies to: a user, a client id, or both, each named or the
// default, as Kafka's /config/users/<user>/clients/<client-id>.
type Entity struct {
	User     Part
	ClientID Part
}

// String returns the entity in Kafka's path form.
func (e Entity) String() string {
	var b strings.Builder
	if e.User.Present {
		b.WriteString("users/" + e.User.String())
	}
	if e.ClientID.Present {
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString("clients/" + e.ClientID.String())
	}
	return b.String()
}

// Key is what one rate is measured for: the user and client id of the requests the
// matching quota applies to together (a user's quota is shared by all its client ids).
type Key struct {
	HasUser, HasClientID bool
	User, ClientID       string
}

// Set is the stored quotas: for each entity, its values by quota key. A Set is not
// changed after it is built, so it is shared without locks.
type Set map[Entity]map[string]float64

// precedence is Kafka's order of matching quotas, most specific first (Kafka's docs,
// "Quotas"): user and client id, user and default client id, user, default user and
// client id, default user and default client id, default user, client id, default
// client id. The first entity of the order that sets a key gives that key's quota.
var precedence = []struct{ user, client int }{
	{named, named}, {named, dflt}, {named, absent},
	{dflt, named}, {dflt, dflt}, {dflt, absent},
	{absent, named}, {absent, dflt},
}

const (
	absent = iota
	dflt
	named
)

func part(kind int, name string) Part {
	switch kind {
	case named:
		return Named(name)
	case dflt:
		return Default
	}
	return Part{}
}

// Resolve returns the quota of key for requests of user (the principal's name without
// "User:") with client id clientID, and the Key its rate is measured under; ok is false
// when no quota applies.
func (s Set) Resolve(key, user, clientID string) (limit float64, k Key, ok bool) {
	if len(s) == 0 {
		return 0, Key{}, false
	}
	for _, p := range precedence {
		e := Entity{User: part(p.user, user), ClientID: part(p.client, clientID)}
		v, found := s[e][key]
		if !found {
			continue
		}
		k := Key{HasUser: p.user != absent, HasClientID: p.client != absent}
		if k.HasUser {
			k.User = user
		}
		if k.HasClientID {
			k.ClientID = clientID
		}
		return v, k, true
	}
	return 0, Key{}, false
}
