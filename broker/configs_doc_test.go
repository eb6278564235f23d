package broker

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// topicConfigsDoc is the table of topic configs in the docs, generated from topicConfigs.
const topicConfigsDoc = "../docs/topic-configs.md"

// enforcedTopicConfigs are the topic configs the broker acts on; every other one is
// accepted, stored and reported so that tools setting it keep working, and changes nothing.
var enforcedTopicConfigs = map[string]string{
	"cleanup.policy":            "enforced: `delete` applies retention.ms and retention.bytes, `compact` compacts (`compaction.md`); keyless records refused on compacted topics (INVALID_RECORD)",
	"delete.retention.ms":       "enforced, counted from the first compaction that kept the tombstone (`compaction.md`)",
	"max.compaction.lag.ms":     "enforced, measured from the newest record of the oldest uncompacted segment (`compaction.md`)",
	"min.cleanable.dirty.ratio": "enforced (`compaction.md`)",
	"min.compaction.lag.ms":     "enforced per merged segment: by its newest record's timestamp (`compaction.md`)",
	"max.message.bytes":         "enforced on Produce (MESSAGE_TOO_LARGE)",
	"retention.bytes":           "enforced (`object-lifecycle.md`, \"Retention\")",
	"retention.ms":              "enforced (`object-lifecycle.md`, \"Retention\")",
}

// renderTopicConfigsDoc renders docs/topic-configs.md.
func renderTopicConfigsDoc() string {
	var b strings.Builder
	b.WriteString(`# Topic configs

Every topic config of Apache Kafka 4.4 is accepted by CreateTopics, IncrementalAlterConfigs
and AlterConfigs (unknown names and values of the wrong type get INVALID_CONFIG) and
reported by DescribeConfigs with Kafka's default, so that tools and frameworks that set
them keep working. The ones marked "enforced" change what the broker does, and take effect
without a restart when altered; the others change nothing in KafScale, for the reason
given. Generated from ` + "`broker/configs.go`" + ` by
` + "`KAFSCALE_WRITE_DOCS=1 go test -run TestTopicConfigsDoc ./broker/`" + `; the test fails when
this file is out of date.

| config | default | in KafScale | meaning |
|---|---|---|---|
`)
	names := sortedConfigNames()
	slices.Sort(names)
	for _, name := range names {
		d := topicConfigs[name]
		effect := "accepted, no effect"
		if e, ok := enforcedTopicConfigs[name]; ok {
			effect = e
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", name, d.def, effect, d.doc)
	}
	return b.String()
}

// TestTopicConfigsDoc keeps docs/topic-configs.md in step with the configs the broker
// accepts (issue 13, acceptance 4).
func TestTopicConfigsDoc(t *testing.T) {
	for name := range enforcedTopicConfigs {
		if _, ok := topicConfigs[name]; !ok {
			t.Errorf("enforcedTopicConfigs names %s, which is not a topic config", name)
		}
	}
	want := renderTopicConfigsDoc()
	if os.Getenv("KAFSCALE_WRITE_DOCS") == "1" {
		if err := os.WriteFile(topicConfigsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(topicConfigsDoc)
	if err != nil {
		t.Fatalf("cannot read %s: %v (KAFSCALE_WRITE_DOCS=1 go test -run TestTopicConfigsDoc ./broker/ writes it)", topicConfigsDoc, err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date: KAFSCALE_WRITE_DOCS=1 go test -run TestTopicConfigsDoc ./broker/ rewrites it", topicConfigsDoc)
	}
}
