package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestMovedPartitionsAreLogged checks the leadership lines of a move (issue 14, acceptance
// 6): draining broker 1 of two logs, for each partition it led, "partition resigned" on
// broker 1 at the old leader epoch and "partition taken over" on broker 0 at a higher one.
func TestMovedPartitionsAreLogged(t *testing.T) {
	p := testbroker.StartDevCluster(t, 2)
	const topic, partitions = "moving", 4
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	epochs := map[int32]int32{} // partition led by broker 1 -> its leader epoch
	kafkatest.WaitUntil(t, 30*time.Second, "a partition led by broker 1", func() error {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		clear(epochs)
		for _, pd := range md.Topics[topic].Partitions {
			if pd.Leader == 1 {
				epochs[pd.Partition] = pd.LeaderEpoch
			}
		}
		if len(epochs) == 0 {
			return fmt.Errorf("broker 1 leads none of %d partitions", partitions)
		}
		return nil
	})
	mark := len(p.LogTail(256 << 20))

	out, err := exec.CommandContext(ctx, testbroker.Binary(t), "broker", "drain", "--admin", p.MetricsAddrOf(0), "--broker-id", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("kafscale broker drain: %v\n%s", err, out)
	}

	line := func(msg string, part, node int32) *regexp.Regexp {
		return regexp.MustCompile(fmt.Sprintf(`msg="%s" topic=%s partition=%d leader_epoch=(\d+) [^\n]*node_id=%d[^\n]*`, msg, topic, part, node))
	}
	kafkatest.WaitUntil(t, 30*time.Second, "a resigned and a taken-over line per moved partition", func() error {
		log := p.LogTail(256 << 20)[mark:]
		for part, epoch := range epochs {
			m := line("partition resigned", part, 1).FindStringSubmatch(log)
			if m == nil || m[1] != fmt.Sprint(epoch) {
				return fmt.Errorf("partition %d: no resigned line on broker 1 at epoch %d (%v)", part, epoch, m)
			}
			if !strings.Contains(m[0], `reason="no longer assigned to this broker at this leader epoch"`) {
				return fmt.Errorf("partition %d resigned: %s", part, m[0])
			}
			m = line("partition taken over", part, 0).FindStringSubmatch(log)
			if e, _ := strconv.Atoi(m1(m)); m == nil || int32(e) <= epoch {
				return fmt.Errorf("partition %d: no taken-over line on broker 0 above epoch %d (%v)", part, epoch, m)
			}
		}
		return nil
	})
}

// m1 is a match's first group, "" for no match.
func m1(m []string) string {
	if m == nil {
		return ""
	}
	return m[1]
}
