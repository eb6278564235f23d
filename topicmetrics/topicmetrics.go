// Package topicmetrics exports each topic's traffic through this broker, as Kafka's
// BrokerTopicMetrics do per topic:
//
//	kafscale_topic_bytes_in_total{topic}    record batch bytes appended (Kafka's BytesInPerSec)
//	kafscale_topic_records_in_total{topic}  records appended (MessagesInPerSec)
//	kafscale_topic_bytes_out_total{topic}   record batch bytes sent to consumers (BytesOutPerSec)
//	kafscale_topic_records_out_total{topic} records in the batches sent
//
// Cardinality is bounded: at most Config.MaxTopics topics get series of their own (in the
// order they first carry traffic on this broker); the traffic of any further topic is
// added to topic="(other)" (not a legal topic name), exported from the start. A deleted
// topic's series are removed (Forget), which frees its place.
//
// The series live in one metrics.Set registered once: a process runs one broker.
package topicmetrics

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/codec"
)

// Other is the topic label of the traffic of topics past Config.MaxTopics.
const Other = "(other)"

// DefaultMaxTopics is the default of --metrics-max-topics: four series per topic keep a
// broker's scrape within a few thousand series.
const DefaultMaxTopics = 1000

// Config bounds the per-topic series.
type Config struct {
	// MaxTopics is --metrics-max-topics: the most topics exported by name; 0 exports
	// every topic's traffic under Other only.
	MaxTopics int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{MaxTopics: DefaultMaxTopics} }

// Validate reports a bad setting, naming its flag.
func (c Config) Validate() error {
	if c.MaxTopics < 0 {
		return fmt.Errorf("--metrics-max-topics must be >=0 (set to %d)", c.MaxTopics)
	}
	return nil
}

// Traffic holds one topic's counters (or Other's). Safe from any goroutine.
type Traffic struct {
	BytesIn, RecordsIn, BytesOut, RecordsOut *metrics.Counter
	names                                    [4]string
}

var (
	set = metrics.NewSet()
	// maxTopics is Config.MaxTopics, set by Configure.
	maxTopics atomic.Int64
	// mu serializes adding and forgetting topics; lookups read byName without it.
	mu     sync.Mutex
	byName sync.Map // topic name -> *Traffic
	named  int      // topics in byName; guarded by mu
	other  = newTraffic(Other)
)

func init() {
	maxTopics.Store(DefaultMaxTopics)
	metrics.RegisterSet(set)
}

// Configure applies cfg (valid) from now on; topics already exported by name keep their
// series.
func Configure(cfg Config) { maxTopics.Store(int64(cfg.MaxTopics)) }

func newTraffic(topic string) *Traffic {
	t := &Traffic{}
	for i, name := range []string{"bytes_in", "records_in", "bytes_out", "records_out"} {
		t.names[i] = fmt.Sprintf(`kafscale_topic_%s_total{topic=%q}`, name, topic)
	}
	t.BytesIn = set.NewCounter(t.names[0])
	t.RecordsIn = set.NewCounter(t.names[1])
	t.BytesOut = set.NewCounter(t.names[2])
	t.RecordsOut = set.NewCounter(t.names[3])
	return t
}

// For returns the counters of topic: its own, or Other's once Config.MaxTopics topics
// have series. Cheap after a topic's first call (one map read).
func For(topic string) *Traffic {
	if t, ok := byName.Load(topic); ok {
		return t.(*Traffic)
	}
	mu.Lock()
	defer mu.Unlock()
	if t, ok := byName.Load(topic); ok {
		return t.(*Traffic)
	}
	if int64(named) >= maxTopics.Load() {
		return other
	}
	t := newTraffic(topic)
	byName.Store(topic, t)
	named++
	return t
}

// Forget removes a deleted topic's series. A topic counted under Other stays counted
// there (Other is a sum over time, like any counter).
func Forget(topic string) {
	mu.Lock()
	defer mu.Unlock()
	t, ok := byName.LoadAndDelete(topic)
	if !ok {
		return
	}
	named--
	for _, name := range t.(*Traffic).names {
		set.UnregisterMetric(name)
	}
}

// CountRecords returns the records in a run of record batches (their headers' counts);
// a trailing partial batch, which a fetch may end with, counts nothing.
func CountRecords(batches []byte) int {
	n := 0
	for len(batches) > 0 {
		b, rest, err := codec.NextBatch(batches)
		if err != nil {
			break
		}
		h, _ := codec.ParseBatchHeader(b) // NextBatch checked there is a whole header
		n += int(h.NumRecords)
		batches = rest
	}
	return n
}
