// Package reqmetrics counts the Kafka error codes the broker answers, per API, as
// kafscale_request_errors_total{api,error}: Kafka's RequestMetrics ErrorsPerSec, with the
// API and error named as Kafka names them. Each occurrence counts (a Produce answering two
// partitions NOT_LEADER_OR_FOLLOWER adds two), as Kafka's errorCounts does; NONE is not
// counted (kafscale_requests_total counts requests).
//
// A series appears with the first answer carrying its code: codes per API are not known
// beforehand, and exporting every API x code pair at zero would be thousands of series.
// Queries and alerts use sum(rate(...)) with "or vector(0)" where no error yet must read 0.
package reqmetrics

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// APIName is Kafka's name of an API (ApiKeys): franz-go's, with "ID" written "Id" as Kafka
// writes it (InitProducerId), so that dashboards built for Kafka's request metrics find
// the same names.
func APIName(key int16) string {
	return strings.ReplaceAll(kmsg.NameForKey(key), "ID", "Id")
}

// ErrorName is Kafka's name of an error code (Errors in Kafka's clients): franz-go's,
// except where Kafka renamed the code since (6 is NOT_LEADER_OR_FOLLOWER from Kafka 2.7).
// It is the one place error codes get their metric label.
func ErrorName(code int16) string {
	switch code {
	case kerr.NotLeaderForPartition.Code:
		return "NOT_LEADER_OR_FOLLOWER"
	case 0:
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e.Code == code {
		return e.Message
	}
	return fmt.Sprintf("UNKNOWN_CODE_%d", code)
}

type counterKey struct{ api, code int16 }

// counters caches the counter of each API and code seen: Count runs for every partition
// error of every response, and formatting the series name each time would dominate it.
var counters sync.Map // counterKey -> *metrics.Counter

// Count records one answer of code (not 0) to API key.
func Count(key, code int16) {
	if code == 0 {
		return
	}
	k := counterKey{key, code}
	c, ok := counters.Load(k)
	if !ok {
		c, _ = counters.LoadOrStore(k, metrics.GetOrCreateCounter(
			fmt.Sprintf(`kafscale_request_errors_total{api=%q,error=%q}`, APIName(key), ErrorName(code))))
	}
	c.(*metrics.Counter).Inc()
}

// CountResponse records every non-zero error code in resp (any field whose name ends in
// ErrorCode, at any depth), as answers to resp's API.
func CountResponse(resp kmsg.Response) {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	key := resp.Key()
	if w := walkerFor(v.Elem().Type()); w != nil {
		w(v.Elem(), func(code int16) { Count(key, code) })
	}
}

// walker visits the error codes of one value of the type it was built for.
type walker func(v reflect.Value, visit func(code int16))

// walkers caches a walker per type (nil for a type holding no error code): kmsg types are
// fixed, so the reflection over their fields is done once.
var walkers sync.Map // reflect.Type -> walker

func walkerFor(t reflect.Type) walker {
	if w, ok := walkers.Load(t); ok {
		return w.(walker)
	}
	w := buildWalker(t, map[reflect.Type]bool{})
	walkers.Store(t, w)
	return w
}

// buildWalker returns the walker of t, or nil if no error code is reachable from it.
// building guards against recursive types (none in kmsg today).
func buildWalker(t reflect.Type, building map[reflect.Type]bool) walker {
	if building[t] {
		return nil
	}
	building[t] = true
	defer delete(building, t)
	switch t.Kind() {
	case reflect.Pointer:
		elem := buildWalker(t.Elem(), building)
		if elem == nil {
			return nil
		}
		return func(v reflect.Value, visit func(int16)) {
			if !v.IsNil() {
				elem(v.Elem(), visit)
			}
		}
	case reflect.Slice:
		elem := buildWalker(t.Elem(), building)
		if elem == nil {
			return nil
		}
		return func(v reflect.Value, visit func(int16)) {
			for i := range v.Len() {
				elem(v.Index(i), visit)
			}
		}
	case reflect.Struct:
		var parts []walker
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Type.Kind() == reflect.Int16 && strings.HasSuffix(f.Name, "ErrorCode") {
				parts = append(parts, func(v reflect.Value, visit func(int16)) {
					if code := int16(v.Field(i).Int()); code != 0 {
						visit(code)
					}
				})
				continue
			}
			if w := buildWalker(f.Type, building); w != nil {
				parts = append(parts, func(v reflect.Value, visit func(int16)) { w(v.Field(i), visit) })
			}
		}
		if len(parts) == 0 {
			return nil
		}
		return func(v reflect.Value, visit func(int16)) {
			for _, p := range parts {
				p(v, visit)
			}
		}
	}
	return nil
}
