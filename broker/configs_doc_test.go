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

// renderTopicConfigsDoc renders docs/topic-configs.md.
func renderTopicConfigsDoc() string {
	var b strings.Builder
	b.WriteString(`# Topic configs

Every topic config of Apache Kafka 4.4 is accepted by CreateTopics, IncrementalAlterConfigs
and AlterConfigs (unknown names and values of the wrong type get INVALID_CONFIG) and
reported by DescribeConfigs with Kafka's default, so that tools and frameworks that set
them keep working. The ones marked "enforced" change what the broker does, and take effect
without a restart when altered; the others change nothing in KafScale, for the reason
given, and are not stored: DescribeConfigs (` + "`kafka-configs --describe`" + `) keeps reporting
their default, never a value that would look as if it changed behaviour. Generated from
` + "`broker/configs.go`" + ` by
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
		if e, ok := topicConfigEffects[name]; ok {
			effect = e
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", name, d.def, effect, d.doc)
	}
	return b.String()
}

// TestTopicConfigsDoc keeps docs/topic-configs.md in step with the configs the broker
// accepts (issue 13, acceptance 4).
func TestTopicConfigsDoc(t *testing.T) {
	for name := range topicConfigEffects {
		if _, ok := topicConfigs[name]; !ok {
			t.Errorf("topicConfigEffects names %s, which is not a topic config", name)
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
