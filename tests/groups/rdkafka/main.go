// Command rdkafka-member is one librdkafka consumer group member for
// tests/groups/rdkafka_test.go: librdkafka's own group code, linked from the prebuilt
// static library that confluent-kafka-go bundles (librdkafka 2.11, which speaks the
// KIP-848 consumer protocol; Debian's librdkafka 2.0.2 does not).
//
// It is a module of its own so that the broker's go.mod does not carry a cgo client:
// only this test tool links it.
//
// Usage:
//
//	rdkafka-member -bootstrap ADDR -group G -topic T [-protocol consumer|classic]
//	               [-assignor uniform|range] [-timeout 90s]
//
// It subscribes, consumes, commits each record's next offset synchronously after it is
// "processed" (at-least-once), and prints one JSON object per line on stdout:
//
//	{"event":"assigned","partitions":[0,1]}     the member's whole assignment after a change
//	{"event":"record","partition":0,"offset":5,"value":"v20"}
//	{"event":"commit_error","partition":0,"offset":6,"error":"..."}
//	{"event":"error","error":"..."}              a client error librdkafka reports
//	{"event":"closed"}                           Close returned: the member left the group
//
// It stops when its stdin is closed (or at -timeout), closing the consumer so that it
// leaves the group. The Go test does all the checking.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

type event struct {
	Event      string  `json:"event"`
	Partitions []int32 `json:"partitions,omitempty"`
	Partition  *int32  `json:"partition,omitempty"`
	Offset     *int64  `json:"offset,omitempty"`
	Value      string  `json:"value,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// out serialises events: the poll loop and the stdin watcher both print.
type out struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *out) print(e event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.enc.Encode(e); err != nil {
		fmt.Fprintf(os.Stderr, "rdkafka-member: cannot write an event: %v\n", err)
		os.Exit(2)
	}
}

func main() {
	bootstrap := flag.String("bootstrap", "", "broker address")
	group := flag.String("group", "", "group id")
	topic := flag.String("topic", "", "topic to subscribe to")
	protocol := flag.String("protocol", "consumer", "group.protocol: consumer (KIP-848) or classic")
	assignor := flag.String("assignor", "", "group.remote.assignor for the consumer protocol (empty: the broker's default)")
	timeout := flag.Duration("timeout", 90*time.Second, "stop after this long even if stdin stays open")
	flag.Parse()
	for name, v := range map[string]string{"-bootstrap": *bootstrap, "-group": *group, "-topic": *topic} {
		if v == "" {
			fmt.Fprintf(os.Stderr, "rdkafka-member: %s is required\n", name)
			os.Exit(2)
		}
	}

	cfg := kafka.ConfigMap{
		"bootstrap.servers":  *bootstrap,
		"client.id":          "kafscale-groups-rdkafka",
		"group.id":           *group,
		"group.protocol":     *protocol,
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": false,
		"fetch.wait.max.ms":  200,
	}
	if *assignor != "" {
		cfg["group.remote.assignor"] = *assignor
	}
	if *protocol == "classic" {
		cfg["session.timeout.ms"] = 6000
		cfg["heartbeat.interval.ms"] = 500
	}
	c, err := kafka.NewConsumer(&cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rdkafka-member: cannot create the consumer: %v\n", err)
		os.Exit(2)
	}
	o := &out{enc: json.NewEncoder(os.Stdout)}

	assigned := map[int32]bool{}
	report := func() {
		var ps []int32
		for p := range assigned {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		o.print(event{Event: "assigned", Partitions: ps})
	}
	// The rebalance callback runs inside Poll, on this goroutine. With the consumer
	// protocol librdkafka assigns incrementally, as with the cooperative classic assignors.
	rebalance := func(c *kafka.Consumer, ev kafka.Event) error {
		switch e := ev.(type) {
		case kafka.AssignedPartitions:
			for _, tp := range e.Partitions {
				assigned[tp.Partition] = true
			}
			if c.GetRebalanceProtocol() == "COOPERATIVE" {
				if err := c.IncrementalAssign(e.Partitions); err != nil {
					return err
				}
			} else if err := c.Assign(e.Partitions); err != nil {
				return err
			}
		case kafka.RevokedPartitions:
			for _, tp := range e.Partitions {
				delete(assigned, tp.Partition)
			}
			if c.GetRebalanceProtocol() == "COOPERATIVE" {
				if err := c.IncrementalUnassign(e.Partitions); err != nil {
					return err
				}
			} else if err := c.Unassign(); err != nil {
				return err
			}
		}
		report()
		return nil
	}
	if err := c.Subscribe(*topic, rebalance); err != nil {
		fmt.Fprintf(os.Stderr, "rdkafka-member: cannot subscribe: %v\n", err)
		os.Exit(2)
	}

	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the test closes our stdin
		close(stop)
	}()
	deadline := time.After(*timeout)
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-deadline:
			o.print(event{Event: "error", Error: fmt.Sprintf("still running after -timeout %s", *timeout)})
			break loop
		default:
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			p, off := e.TopicPartition.Partition, int64(e.TopicPartition.Offset)
			o.print(event{Event: "record", Partition: &p, Offset: &off, Value: string(e.Value)})
			next := off + 1
			tp := e.TopicPartition
			tp.Offset = kafka.Offset(next)
			if _, err := c.CommitOffsets([]kafka.TopicPartition{tp}); err != nil {
				// At-least-once: a commit refused during a reassignment is redone by
				// whoever owns the partition next, so it is reported, not fatal.
				o.print(event{Event: "commit_error", Partition: &p, Offset: &next, Error: err.Error()})
			}
		case kafka.Error:
			o.print(event{Event: "error", Error: e.String()})
		}
	}
	if err := c.Close(); err != nil {
		o.print(event{Event: "error", Error: "close: " + err.Error()})
	}
	o.print(event{Event: "closed"})
}
