package compat

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestKafkajsCreatesTopicAndProduces runs kafkajs 2.2.4 (tests/compat/kafkajs, installed by
// scripts/test-deps.sh): admin.createTopics, an idempotent producer.send (idempotent: true,
// maxInFlightRequests 1) with acks=-1 and gzip, then admin.fetchTopicOffsets. kafkajs cannot
// consume without a consumer group (tests/groups has its group consumer), so here the high
// watermarks stand in for its read-back, franz-go reads the records kafkajs wrote, and DescribeProducers
// must show kafkajs's one producer id on both partitions.
func TestKafkajsCreatesTopicAndProduces(t *testing.T) {
	const (
		n          = 300
		partitions = 2
		timeout    = 60 * time.Second
	)
	node := lookTool(t, "node")
	dir := filepath.Join(packageDir(t), "kafkajs")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs", "package.json")); err != nil {
		t.Fatalf("cannot find kafkajs in %s: %v; %s", dir, err, installHint)
	}
	addr := startBroker(t)
	topic := topicName("kafkajs")
	want := makeRecords("kafkajs", n, partitions, true)

	job, err := json.Marshal(scriptJob{Bootstrap: addr, Topic: topic, Partitions: partitions, TimeoutS: int(timeout / time.Second / 2), Records: toJob(want)})
	if err != nil {
		t.Fatalf("BUG: cannot encode job: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := run(ctx, t, job, dir, node, "roundtrip.js")
	var res struct {
		Created  bool `json:"created"`
		Metadata struct {
			Topics []struct {
				Name       string `json:"name"`
				Partitions []struct {
					PartitionID int32 `json:"partitionId"`
					Leader      int32 `json:"leader"`
				} `json:"partitions"`
			} `json:"topics"`
		} `json:"metadata"`
		Send []struct {
			TopicName  string `json:"topicName"`
			Partition  int32  `json:"partition"`
			ErrorCode  int16  `json:"errorCode"`
			BaseOffset string `json:"baseOffset"`
		} `json:"send"`
		Offsets []struct {
			Partition int32  `json:"partition"`
			High      string `json:"high"`
			Low       string `json:"low"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("cannot parse roundtrip.js output %q: %v", clipN(out, 2000), err)
	}
	if !res.Created {
		t.Errorf("admin.createTopics reports topic %s not created", topic)
	}
	if len(res.Metadata.Topics) != 1 || res.Metadata.Topics[0].Name != topic || len(res.Metadata.Topics[0].Partitions) != partitions {
		t.Errorf("admin.fetchTopicMetadata does not show %s with %d partitions: %s", topic, partitions, out)
	}
	counts := countByPartition(want)
	if len(res.Send) != len(counts) {
		t.Errorf("producer.send reports %d partitions, want %d: %s", len(res.Send), len(counts), out)
	}
	for _, s := range res.Send {
		// One send is one batch per partition, the first on a fresh topic.
		if s.TopicName != topic || s.ErrorCode != 0 || s.BaseOffset != "0" {
			t.Errorf("producer.send partition %d: topic %s error %d base offset %s, want %s, 0, 0", s.Partition, s.TopicName, s.ErrorCode, s.BaseOffset, topic)
		}
	}
	if len(res.Offsets) != len(counts) {
		t.Errorf("admin.fetchTopicOffsets reports %d partitions, want %d: %s", len(res.Offsets), len(counts), out)
	}
	for _, o := range res.Offsets {
		if o.Low != "0" || o.High != strconv.FormatInt(counts[o.Partition], 10) {
			t.Errorf("partition %d offsets [%s, %s), want [0, %d)", o.Partition, o.Low, o.High, counts[o.Partition])
		}
	}
	got, _ := franzConsume(ctx, t, addr, topic, counts)
	checkLog(t, want, got)
	checkIdempotentProducers(t, addr, topic, counts, true)
}
