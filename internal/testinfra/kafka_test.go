package testinfra

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaStartsAndAnswers starts the oracle node, asks it for Metadata as a client would,
// and stops it with SIGTERM; the log shows the start-up time.
func TestKafkaStartsAndAnswers(t *testing.T) {
	k := StartKafka(t, KafkaProperty("auto.create.topics.enable", "false"))
	t.Logf("start-up took %s", k.StartupTime)
	conn, err := net.DialTimeout("tcp", k.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	if err := roundTrip(conn, req, resp); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != k.NodeID || resp.ControllerID != k.NodeID {
		t.Fatalf("metadata brokers %+v, controller %d; want node %d alone", resp.Brokers, resp.ControllerID, k.NodeID)
	}
	if addr := net.JoinHostPort(resp.Brokers[0].Host, fmt.Sprint(resp.Brokers[0].Port)); addr != k.Addr {
		t.Fatalf("broker advertises %s; want %s", addr, k.Addr)
	}
	if log := k.ServerLog(1 << 20); !strings.Contains(log, "Kafka Server started") {
		t.Errorf("server.log lacks the start message; log4j2 configuration not applied?\n%s", log)
	}
	begin := time.Now()
	k.Stop()
	if k.Running() {
		t.Fatal("kafka still runs after Stop")
	}
	t.Logf("stop took %s", time.Since(begin))
}
