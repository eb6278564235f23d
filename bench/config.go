// Package bench is KafScale's end-to-end load and latency harness: the same franz-go load
// against `kafscale dev` (local directory, MinIO, or a simulated S3), against franz-go's
// in-memory kfake broker, and against a plain TCP sink on loopback (the machine's ceiling),
// one after the other in one run, so every figure can be read as a ratio that holds on a
// noisy machine. `go run ./bench/cmd/kbench -h` lists the knobs; docs/benchmarks.md has
// the figures.
package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Target names.
const (
	TargetKafscale = "kafscale-dev" // `kafscale dev` (or `kafscale broker` for MinIO) as a process
	TargetKfake    = "kfake"        // github.com/twmb/franz-go/pkg/kfake, in this process
	TargetSink     = "tcp-sink"     // a TCP sink that discards batches and acks them
	TargetBrokers  = "brokers"      // an external Kafka-compatible cluster (Config.Brokers)
	TargetKafka    = "kafka"        // Apache Kafka 4.4.0, one KRaft node, as a process (testinfra.StartKafka)
)

// Object-store backends of the kafscale-dev target.
const (
	BackendLocal = "local" // local directory (`kafscale dev`)
	BackendS3Sim = "s3sim" // local directory behind objstore.WithLatency (`kafscale dev --object-latency`)
	BackendMinIO = "minio" // MinIO on loopback with an etcd server (`kafscale broker`)
)

// Load is the workload run against every target.
type Load struct {
	// Producers and Consumers are the numbers of franz-go clients (Consumers may be 0).
	Producers, Consumers int
	// Rate is the total produce rate in records/s; 0 produces as fast as the target acks.
	Rate float64
	// RecordSize is the bytes of each record value (at least 8: the send time leads it; the
	// rest is random, so compression gains nothing).
	RecordSize int
	// Partitions of the benchmark topic.
	Partitions int32
	// Acks is "all", "1" or "0".
	Acks string
	// Codec is the producer's batch compression: none, gzip, snappy, lz4 or zstd.
	Codec string
	// Linger overrides the producer's linger (franz-go's default, 10 ms, when 0).
	Linger time.Duration
	// Idempotent leaves franz-go's idempotent producer on (its default, and the Java
	// client's since Kafka 3.0; needs acks=all and allows 5 requests in flight), which is
	// how producers run unless told otherwise. Off, producers run with
	// DisableIdempotentWrite and Inflight applies.
	Idempotent bool
	// Inflight overrides the produce requests in flight per broker per producer of a
	// non-idempotent producer (franz-go's default then, 1, when 0; the Java client's is 5).
	Inflight int
	// Warmup runs the load before the measured window; records sent in it are not counted.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Drain bounds how long, after the window, producers may take to finish and consumers
	// to catch up.
	Drain time.Duration
	// Sync, when > 0, replaces the producers with the synchronous-producer load: Sync
	// goroutines sharing one client whose buffer holds SyncBufferedBytes, each producing
	// one record to partition 0 and waiting for its acknowledgement before the next (an
	// application's producer.send(record).get()). Producers is then ignored; Rate,
	// Consumers and Linger must be 0. 0 runs the asynchronous load above.
	Sync int
	// Fill, when > 0, runs the consume-only load (the maximum fetch rate): the producers
	// write the topic for Fill and stop, then the Consumers (at least one) read it from the
	// start; Warmup and Duration then time the reading. 0 runs the loads above.
	Fill time.Duration
}

// The synchronous-producer load (Load.Sync).
const (
	// SyncBufferedBytes is the client's buffer, kgo.MaxBufferedBytes, in the sync load.
	SyncBufferedBytes = 5000
	// DefaultSyncRecordSize is kbench's -record-size under -sync: 50 records of it fill
	// the client's buffer, so each of 50 synchronous producers can have its record buffered.
	DefaultSyncRecordSize = 100
)

// DefaultLoad returns a small, short load.
func DefaultLoad() Load {
	return Load{
		Producers: 2, Consumers: 1, Rate: 0, RecordSize: 1024, Partitions: 16,
		Acks: "all", Codec: "none", Idempotent: true, Warmup: 2 * time.Second,
		Duration: 20 * time.Second, Drain: 15 * time.Second,
	}
}

// Validate reports the first setting that cannot run, naming the kbench flag.
func (l Load) Validate() error {
	switch {
	case l.Producers < 1:
		return fmt.Errorf("-producers must be >= 1 (set to %d)", l.Producers)
	case l.Consumers < 0:
		return fmt.Errorf("-consumers must be >= 0 (set to %d)", l.Consumers)
	case l.Rate < 0:
		return fmt.Errorf("-rate must be >= 0 or max (set to %g)", l.Rate)
	case l.RecordSize < headerBytes:
		return fmt.Errorf("-record-size must be >= %d (set to %d)", headerBytes, l.RecordSize)
	case l.Partitions < 1:
		return fmt.Errorf("-partitions must be >= 1 (set to %d)", l.Partitions)
	case l.Acks != "all" && l.Acks != "1" && l.Acks != "0":
		return fmt.Errorf("-acks must be all, 1 or 0 (set to %q)", l.Acks)
	case l.Duration <= 0 || l.Duration > time.Hour:
		return fmt.Errorf("-duration must be > 0 and <= 1h (set to %s)", l.Duration)
	case l.Warmup < 0:
		return fmt.Errorf("-warmup must be >= 0 (set to %s)", l.Warmup)
	case l.Drain <= 0:
		return fmt.Errorf("-drain must be > 0 (set to %s)", l.Drain)
	case l.Linger < 0:
		return fmt.Errorf("-linger must be >= 0 (set to %s)", l.Linger)
	case l.Inflight < 0:
		return fmt.Errorf("-inflight must be >= 0 (set to %d)", l.Inflight)
	case l.Idempotent && (l.Acks != "all" || l.Inflight != 0):
		return fmt.Errorf("-idempotent (the default) needs -acks all and no -inflight; add -idempotent=false for acks=%s, inflight %d", l.Acks, l.Inflight)
	case l.Sync < 0:
		return fmt.Errorf("-sync must be >= 0 (set to %d)", l.Sync)
	case l.Fill < 0:
		return fmt.Errorf("-fill must be >= 0 (set to %s)", l.Fill)
	case l.Fill > 0 && l.Sync > 0:
		return fmt.Errorf("-fill (consume only) and -sync (produce only) are different loads: drop one (set to %s and %d)", l.Fill, l.Sync)
	case l.Fill > 0 && l.Consumers < 1:
		return fmt.Errorf("-fill measures consumers reading: -consumers must be >= 1 (set to %d)", l.Consumers)
	case l.Fill > 0 && l.Acks == "0":
		return fmt.Errorf("-fill needs acknowledged records to read back: -acks must be 1 or all (set to %s)", l.Acks)
	case l.Sync > 0 && l.Rate > 0:
		return fmt.Errorf("-sync sends each record when the last is acknowledged, at no set rate: drop -rate (set to %g)", l.Rate)
	case l.Sync > 0 && l.Consumers > 0:
		return fmt.Errorf("-sync runs no consumers: drop -consumers (set to %d)", l.Consumers)
	case l.Sync > 0 && l.Linger > 0:
		return fmt.Errorf("-sync produces with ProduceSync, which sends without lingering: drop -linger (set to %s)", l.Linger)
	case l.Sync > 0 && l.RecordSize > SyncBufferedBytes:
		return fmt.Errorf("-record-size must be <= %d, the client's buffer, with -sync (set to %d)", SyncBufferedBytes, l.RecordSize)
	}
	if _, err := compression(l.Codec); err != nil {
		return err
	}
	return nil
}

// Config is one harness run: a load and the targets it runs against, in order.
type Config struct {
	Load
	// Targets, each a target name; kafscale-dev may carry a backend: "kafscale-dev/s3sim".
	Targets []string
	// Brokers is the bootstrap address of the "brokers" target.
	Brokers string
	// MetricsURL is the /metrics URL of the "brokers" target (optional).
	MetricsURL string
	// Backend is the kafscale-dev target's object store when its name carries none.
	Backend string
	// ObjectLatency is the s3sim backend's --object-latency spec.
	ObjectLatency string
	// KafscaleArgs are extra flags for the kafscale process (e.g. --flush-interval 50ms).
	KafscaleArgs []string
	// ProfileDir, when set, receives each broker's CPU and allocation profiles over the
	// measured window (kafscale-dev targets are started with --pprof; a brokers target needs
	// -metrics and its own --pprof).
	ProfileDir string
}

// DefaultConfig returns the side-by-side run: kafscale dev on a local directory, kfake and
// the TCP sink.
func DefaultConfig() Config {
	return Config{
		Load:          DefaultLoad(),
		Targets:       []string{TargetKafscale, TargetKfake, TargetSink},
		Backend:       BackendLocal,
		ObjectLatency: "s3-standard",
	}
}

// Validate reports the first setting that cannot run.
func (c Config) Validate() error {
	if err := c.Load.Validate(); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		return errors.New("-targets must name at least one target")
	}
	for _, t := range c.Targets {
		name, backend, _ := strings.Cut(t, "/")
		switch {
		case c.Fill > 0 && name == TargetSink:
			return errors.New("-fill: the tcp-sink target keeps nothing to read back; drop it from -targets")
		case c.ProfileDir != "" && name != TargetKafscale && name != TargetBrokers:
			return fmt.Errorf("-profile: target %q serves no Go profiles (only kafscale-dev and brokers with -metrics do); drop it from -targets or drop -profile", t)
		}
		switch name {
		case TargetKfake, TargetSink, TargetKafka:
		case TargetBrokers:
			if c.Brokers == "" {
				return errors.New("-brokers must be set for the brokers target")
			}
		case TargetKafscale:
			if backend == "" {
				backend = c.Backend
			}
			if backend != BackendLocal && backend != BackendS3Sim && backend != BackendMinIO {
				return fmt.Errorf("-backend must be local, s3sim or minio (set to %q in target %q)", backend, t)
			}
		default:
			return fmt.Errorf("-targets: unknown target %q (want kafscale-dev[/backend], kafka, kfake, tcp-sink or brokers)", t)
		}
	}
	return nil
}
