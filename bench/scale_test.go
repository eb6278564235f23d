package bench

import (
	"strings"
	"testing"
	"time"
)

// TestScaleConfigValidateNamesTheFlag: each bad setting of kscale is refused with the flag
// it came from.
func TestScaleConfigValidateNamesTheFlag(t *testing.T) {
	if err := DefaultScaleConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		flag string
		edit func(*ScaleConfig)
	}{
		{"-targets", func(c *ScaleConfig) { c.Targets = []string{"kfake"} }},
		{"-partitions", func(c *ScaleConfig) { c.Partitions = 0 }},
		{"-topic-partitions", func(c *ScaleConfig) { c.TopicPartitions = c.Partitions + 1 }},
		{"-write-for", func(c *ScaleConfig) { c.WriteFor, c.WriteRate = time.Minute, 0 }},
		{"-record-size", func(c *ScaleConfig) { c.RecordSize = 0 }},
		{"-connections", func(c *ScaleConfig) { c.Connections = -1 }},
		{"-metadata-rounds", func(c *ScaleConfig) { c.MetadataRounds = 0 }},
	} {
		c := DefaultScaleConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: Validate() = %v; want an error naming %s", tc.flag, err, tc.flag)
		}
	}
}

// TestScaleTopicsCoverThePartitions: the topics hold exactly the partitions asked for, the
// last one the remainder.
func TestScaleTopicsCoverThePartitions(t *testing.T) {
	topics := scaleTopics(ScaleConfig{Partitions: 1050, TopicPartitions: 100})
	total := 0
	for _, n := range topics {
		total += int(n)
	}
	if len(topics) != 11 || total != 1050 || topics["scale-00010"] != 50 {
		t.Fatalf("%d topics of %d partitions in all (%v); want 11 holding 1050, the last 50", len(topics), total, topics)
	}
}
