package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// ScaleConfig is one run of the single-broker scale measurement (issue 20, acceptance 6):
// many partitions (memory, Metadata latency, restart after kill -9 with unmerged data) and
// many client connections (memory, a new client's first answer).
type ScaleConfig struct {
	// Targets are kafscale-dev and kafscale-dev/minio (`kafscale broker` on MinIO and an
	// etcd server); each runs as its own process, built without the race detector.
	Targets []string
	// Partitions is the partition count, in topics of TopicPartitions partitions.
	Partitions      int
	TopicPartitions int
	// WriteFor is how long records are written to every partition, round robin, before the
	// kill, at WriteRate records per second of RecordSize bytes. Merging is held off for
	// the whole run, so the restart folds all of it from flush objects: "unmerged data".
	WriteFor   time.Duration
	WriteRate  float64
	RecordSize int
	// Connections is the idle client connections opened (each after one ApiVersions).
	Connections int
	// MetadataRounds is the Metadata requests for every topic timed, one after another.
	MetadataRounds int
	// KafscaleArgs are extra flags for the broker (e.g. --pprof).
	KafscaleArgs []string
}

// DefaultScaleConfig is the acceptance's load: 10,000 partitions with 10 minutes of
// unmerged data, 5,000 connections.
func DefaultScaleConfig() ScaleConfig {
	return ScaleConfig{
		Targets:         []string{TargetKafscale, TargetKafscale + "/" + BackendMinIO},
		Partitions:      10000,
		TopicPartitions: 100,
		WriteFor:        10 * time.Minute,
		WriteRate:       2000,
		RecordSize:      1024,
		Connections:     5000,
		MetadataRounds:  20,
	}
}

// Validate checks the settings, naming the flag at fault.
func (c ScaleConfig) Validate() error {
	switch {
	case len(c.Targets) == 0:
		return errors.New("-targets is empty")
	case c.Partitions < 1:
		return fmt.Errorf("-partitions must be at least 1 (set to %d)", c.Partitions)
	case c.TopicPartitions < 1 || c.TopicPartitions > c.Partitions:
		return fmt.Errorf("-topic-partitions must be within [1, -partitions] (set to %d)", c.TopicPartitions)
	case c.WriteFor < 0 || (c.WriteFor > 0 && c.WriteRate <= 0):
		return fmt.Errorf("-write-for must be >= 0 with -write-rate > 0 (set to %s and %v)", c.WriteFor, c.WriteRate)
	case c.RecordSize < 1:
		return fmt.Errorf("-record-size must be at least 1 (set to %d)", c.RecordSize)
	case c.Connections < 0:
		return fmt.Errorf("-connections must be >= 0 (set to %d)", c.Connections)
	case c.MetadataRounds < 1:
		return fmt.Errorf("-metadata-rounds must be at least 1 (set to %d)", c.MetadataRounds)
	}
	for _, t := range c.Targets {
		if t != TargetKafscale && t != TargetKafscale+"/"+BackendMinIO {
			return fmt.Errorf("-targets: %q is not %s or %s/%s", t, TargetKafscale, TargetKafscale, BackendMinIO)
		}
	}
	return nil
}

// ScaleResult holds one target's figures.
type ScaleResult struct {
	Target, About string
	Topics        int
	CreateTime    time.Duration
	// RSS of the broker: empty, with the partitions created, after the writes.
	RSSEmpty, RSSIdle, RSSWritten int64
	// Metadata for every topic: latency over MetadataRounds requests, response partitions.
	Metadata     Summary
	MetadataSize int
	// The writes: records acknowledged, failed, flush objects committed.
	Written, WriteErrors int64
	FlushObjects         float64
	// Restart: from SIGKILL to /readyz and to every partition answering ListOffsets with
	// the high watermark it had before the kill; footers the takeover read.
	ToReady, ToServing time.Duration
	FootersRead        float64
	// Connections: opened, RSS before and after (settled), a new client's first Metadata
	// answer (dial, ApiVersions, Metadata) with them all open.
	Conns                 int
	RSSBeforeConns        int64
	RSSWithConns          int64
	NewClient             Summary
	ConnsOpenTime         time.Duration
	MetadataWithConnsOpen Summary
}

// RunScale runs the scale measurement against each target in turn.
func RunScale(ctx context.Context, tb testing.TB, cfg ScaleConfig, progress io.Writer) ([]*ScaleResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var out []*ScaleResult
	for _, target := range cfg.Targets {
		res := &ScaleResult{Target: target}
		if err := runScaleTarget(ctx, tb, cfg, res, progress); err != nil {
			return out, fmt.Errorf("%s: %w", target, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// scaleBroker is a started broker the measurement can kill and restart.
type scaleBroker struct {
	addr, metricsAddr string
	pid               func() int
	kill              func()
	relaunch          func() // start again on the same data without waiting
	waitReady         func(time.Duration)
	stop              func()
}

// restartBound bounds a restart's wait for /readyz: a broker that is not ready within it
// fails the run (the target is 10 s).
const restartBound = 10 * time.Minute

func startScaleBroker(tb testing.TB, cfg ScaleConfig, target string) (*scaleBroker, string) {
	args := append([]string{
		"--max-partitions", fmt.Sprint(max(cfg.Partitions, 10000)),
		"--max-connections", fmt.Sprint(max(cfg.Connections+1000, 10000)),
		"--max-connections-per-ip", fmt.Sprint(cfg.Connections + 1000),
		// Hold merging off: the restart folds every record written from flush objects.
		"--merge-age", "24h", "--merge-interval", "24h",
	}, cfg.KafscaleArgs...)
	if strings.HasSuffix(target, "/"+BackendMinIO) {
		etcd := testinfra.StartEtcd(tb)
		minio := testinfra.StartMinIO(tb)
		b := testbroker.StartPlainBroker(tb, etcd.Endpoints(), testbroker.S3{
			Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
			AccessKey: minio.AccessKey, SecretKey: minio.SecretKey,
		}, args...)
		return &scaleBroker{addr: b.Addr, metricsAddr: b.MetricsAddr, pid: b.Pid, kill: b.Kill, relaunch: b.Launch,
				waitReady: b.WaitReady, stop: func() { b.Kill(); minio.Kill(); etcd.Kill() }},
			"kafscale broker on MinIO and an etcd server, loopback (their RSS not counted)"
	}
	p := testbroker.StartPlain(tb, args...)
	return &scaleBroker{addr: p.Addr, metricsAddr: p.MetricsAddr, pid: p.Pid, kill: p.Kill, relaunch: p.Relaunch,
			waitReady: p.WaitReady, stop: p.Kill},
		"kafscale dev, local directory store, embedded etcd (in the broker's RSS)"
}

func runScaleTarget(ctx context.Context, tb testing.TB, cfg ScaleConfig, res *ScaleResult, progress io.Writer) error {
	logf := func(format string, a ...any) {
		fmt.Fprintf(progress, "%s: "+format+"\n", append([]any{res.Target}, a...)...)
	}
	b, about := startScaleBroker(tb, cfg, res.Target)
	defer b.stop()
	res.About = about
	var err error
	if res.RSSEmpty, err = settledRSS(ctx, b.pid()); err != nil {
		return err
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer cl.Close()
	topics := scaleTopics(cfg)
	res.Topics = len(topics)
	start := time.Now()
	if err := createScaleTopics(ctx, kadm.NewClient(cl), topics); err != nil {
		return err
	}
	res.CreateTime = time.Since(start)
	logf("%d partitions in %d topics created in %s", cfg.Partitions, len(topics), res.CreateTime.Round(time.Millisecond))
	if res.RSSIdle, err = settledRSS(ctx, b.pid()); err != nil {
		return err
	}
	if res.Metadata, res.MetadataSize, err = timeMetadata(ctx, cl, cfg.MetadataRounds); err != nil {
		return err
	}
	if res.MetadataSize != cfg.Partitions {
		return fmt.Errorf("metadata for every topic answered %d partitions, want %d", res.MetadataSize, cfg.Partitions)
	}
	logf("metadata for every topic: %s", pcts(res.Metadata))

	if cfg.WriteFor > 0 {
		logf("writing %v records/s to every partition for %s", cfg.WriteRate, cfg.WriteFor)
		res.Written, res.WriteErrors = writeScale(ctx, cl, cfg, topics)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logf("%d records written, %d failed", res.Written, res.WriteErrors)
	}
	before, err := endOffsets(ctx, cl, topics)
	if err != nil {
		return fmt.Errorf("cannot read end offsets before the kill: %w", err)
	}
	m, err := scrapeMetrics(ctx, b.metricsAddr)
	if err != nil {
		return err
	}
	res.FlushObjects = m["kafscale_flush_objects_total"]
	if res.RSSWritten, err = settledRSS(ctx, b.pid()); err != nil {
		return err
	}

	// kill -9, restart on the same data, and poll until every partition is back.
	logf("kill -9 at %s", time.Now().UTC().Format("15:04:05.000"))
	killed := time.Now()
	b.kill()
	b.relaunch()
	b.waitReady(restartBound)
	res.ToReady = time.Since(killed)
	if err := waitServing(ctx, cl, topics, before); err != nil {
		return err
	}
	res.ToServing = time.Since(killed)
	if m, err = scrapeMetrics(ctx, b.metricsAddr); err != nil {
		return err
	}
	res.FootersRead = m["kafscale_takeover_footers_read_total"]
	logf("kill -9 to ready %s, to every partition serving %s (%.0f flush objects, %.0f footers read)",
		res.ToReady.Round(time.Millisecond), res.ToServing.Round(time.Millisecond), res.FlushObjects, res.FootersRead)

	if cfg.Connections > 0 {
		if err := measureConnections(ctx, cfg, b, res, cl, logf); err != nil {
			return err
		}
	}
	return nil
}

// scaleTopics names the topics and their partition counts.
func scaleTopics(cfg ScaleConfig) map[string]int32 {
	topics := map[string]int32{}
	for i, left := 0, cfg.Partitions; left > 0; i++ {
		n := min(left, cfg.TopicPartitions)
		topics[fmt.Sprintf("scale-%05d", i)] = int32(n)
		left -= n
	}
	return topics
}

func sortedTopics(topics map[string]int32) []string {
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	return names
}

// createScaleTopics creates the topics 100 per request.
func createScaleTopics(ctx context.Context, adm *kadm.Client, topics map[string]int32) error {
	names := sortedTopics(topics)
	for len(names) > 0 {
		n := min(len(names), 100)
		byCount := map[int32][]string{}
		for _, t := range names[:n] {
			byCount[topics[t]] = append(byCount[topics[t]], t)
		}
		for count, ts := range byCount {
			resp, err := adm.CreateTopics(ctx, count, 1, nil, ts...)
			if err != nil {
				return fmt.Errorf("cannot create topics: %w", err)
			}
			if err := resp.Error(); err != nil {
				return fmt.Errorf("cannot create topics: %w", err)
			}
		}
		names = names[n:]
	}
	return nil
}

// timeMetadata times rounds Metadata requests for every topic and returns the partitions
// the last one named.
func timeMetadata(ctx context.Context, cl *kgo.Client, rounds int) (Summary, int, error) {
	var h Histogram
	parts := 0
	for range rounds {
		req := kmsg.NewPtrMetadataRequest() // nil Topics: every topic
		start := time.Now()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return Summary{}, 0, fmt.Errorf("cannot get metadata: %w", err)
		}
		h.Record(time.Since(start))
		parts = 0
		for _, t := range resp.Topics {
			parts += len(t.Partitions)
		}
	}
	return h.Summarize(), parts, nil
}

// writeScale writes records round robin over every partition at cfg.WriteRate for
// cfg.WriteFor and returns the records acknowledged and failed.
func writeScale(ctx context.Context, cl *kgo.Client, cfg ScaleConfig, topics map[string]int32) (acked, failed int64) {
	type tp struct {
		topic string
		part  int32
	}
	var all []tp
	for _, t := range sortedTopics(topics) {
		for p := range topics[t] {
			all = append(all, tp{t, p})
		}
	}
	value := make([]byte, cfg.RecordSize)
	var ok, bad atomic.Int64
	pace := newPacer(cfg.WriteRate)
	end := time.Now().Add(cfg.WriteFor)
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		if d := time.Until(pace.due()); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		x := all[i%len(all)]
		cl.Produce(ctx, &kgo.Record{Topic: x.topic, Partition: x.part, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				bad.Add(1)
			} else {
				ok.Add(1)
			}
		})
		pace.sent()
	}
	_ = cl.Flush(ctx)
	return ok.Load(), bad.Load()
}

// endOffsets reads every partition's high watermark with one ListOffsets per topic batch;
// an error code on any partition fails it.
func endOffsets(ctx context.Context, cl *kgo.Client, topics map[string]int32) (map[string][]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	for _, t := range sortedTopics(topics) {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t
		for p := range topics[t] {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	// kgo splits the request by partition leader (one broker here), from its metadata.
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := map[string][]int64{}
	for _, rt := range resp.Topics {
		offs := make([]int64, topics[rt.Topic])
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("%s-%d: %w", rt.Topic, rp.Partition, err)
			}
			if int(rp.Partition) < len(offs) {
				offs[rp.Partition] = rp.Offset
			}
		}
		out[rt.Topic] = offs
	}
	for t, n := range topics {
		if len(out[t]) != int(n) {
			return nil, fmt.Errorf("no end offsets for topic %s", t)
		}
	}
	return out, nil
}

// waitServing polls until every partition answers ListOffsets with the end offset it had
// before the kill.
func waitServing(ctx context.Context, cl *kgo.Client, topics map[string]int32, want map[string][]int64) error {
	deadline := time.Now().Add(5 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		got, err := endOffsets(ctx, cl, topics)
		if err == nil {
			err = sameOffsets(got, want)
			if err == nil {
				return nil
			}
			return fmt.Errorf("after the restart: %w", err) // served, but with other offsets
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("partitions not all serving 5 minutes after the restart: %w", last)
}

func sameOffsets(got, want map[string][]int64) error {
	for t, w := range want {
		for p, o := range w {
			if got[t][p] != o {
				return fmt.Errorf("%s-%d end offset %d, was %d before the kill", t, p, got[t][p], o)
			}
		}
	}
	return nil
}

func scrapeMetrics(ctx context.Context, addr string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	return ParseMetrics(resp.Body)
}

// settledRSS reads the broker's RSS until two readings 500 ms apart differ by less than
// 1% (allocation after a phase settles within seconds), or for 15 s at most.
func settledRSS(ctx context.Context, pid int) (int64, error) {
	prev, _, err := procMem(pid)
	if err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		cur, _, err := procMem(pid)
		if err != nil {
			return 0, err
		}
		if d := cur - prev; d < cur/100 && -d < cur/100 {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// WriteScaleReport prints one block per target.
func WriteScaleReport(w io.Writer, cfg ScaleConfig, results []*ScaleResult) {
	fmt.Fprintf(w, "scale: %d partitions in topics of %d; %s of writes at %.0f records/s of %d B, merging held off; %d idle connections\n",
		cfg.Partitions, cfg.TopicPartitions, cfg.WriteFor, cfg.WriteRate, cfg.RecordSize, cfg.Connections)
	for _, r := range results {
		per := func(rss int64) string { return fmt.Sprintf("%.0f B", float64(rss-r.RSSEmpty)/float64(cfg.Partitions)) }
		fmt.Fprintf(w, "\n%s (%s)\n", r.Target, r.About)
		fmt.Fprintf(w, "  topics created           %d in %s\n", r.Topics, r.CreateTime.Round(time.Millisecond))
		fmt.Fprintf(w, "  RSS empty / idle / written  %s / %s / %s MiB; per partition idle %s, written %s\n",
			mib(r.RSSEmpty), mib(r.RSSIdle), mib(r.RSSWritten), per(r.RSSIdle), per(r.RSSWritten))
		fmt.Fprintf(w, "  Metadata, every topic    p50/p90/p99/p99.9/max %s ms (%d partitions)\n", pcts(r.Metadata), r.MetadataSize)
		fmt.Fprintf(w, "  written                  %d records acknowledged, %d failed, %.0f flush objects\n", r.Written, r.WriteErrors, r.FlushObjects)
		fmt.Fprintf(w, "  kill -9 to ready         %s ms\n", ms(r.ToReady))
		fmt.Fprintf(w, "  kill -9 to all serving   %s ms (every partition's end offset as before; %.0f footers read)\n", ms(r.ToServing), r.FootersRead)
		if r.Conns > 0 {
			fmt.Fprintf(w, "  connections              %d opened in %s; RSS %s -> %s MiB, %.0f B per connection\n",
				r.Conns, r.ConnsOpenTime.Round(time.Millisecond), mib(r.RSSBeforeConns), mib(r.RSSWithConns),
				float64(r.RSSWithConns-r.RSSBeforeConns)/float64(r.Conns))
			fmt.Fprintf(w, "  new client, first answer p50/p90/p99/p99.9/max %s ms (with them open)\n", pcts(r.NewClient))
			fmt.Fprintf(w, "  Metadata, every topic    p50/p90/p99/p99.9/max %s ms (with them open)\n", pcts(r.MetadataWithConnsOpen))
		}
	}
}
