package broker

// Helpers shared by the consumer-group handlers (find_coordinator.go, join_group.go,
// sync_group.go, heartbeat.go, leave_group.go, offset_commit.go, offset_fetch.go,
// list_groups.go, describe_groups.go, delete_groups.go, offset_delete.go). The
// coordinator itself is group.Coordinator; these files only translate the wire versions.

import (
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/group"
)

// groupStoreTimeout bounds the etcd work of one group request (a commit, a fetch).
const groupStoreTimeout = 15 * time.Second

// groupCode is a coordinator error's Kafka code (0 for none).
func groupCode(e *kerr.Error) int16 {
	if e == nil {
		return 0
	}
	return e.Code
}

// clientHost is the client's address as Kafka reports it in DescribeGroups ("/127.0.0.1").
func clientHost(c *call) string {
	addr := c.req.Conn.RemoteAddr()
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return "/" + tcp.IP.String()
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return "/" + host
	}
	return "/" + addr.String()
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// groupTopics shows the group coordinator this broker's topics, for KIP-848 server-side
// assignment. The coordinator calls it with a group's lock held (lock order: group ->
// Broker.mu).
type groupTopics struct{ b *Broker }

func (g groupTopics) TopicByName(name string) (group.TopicInfo, bool) {
	t := g.b.topicByName(name)
	if t == nil {
		return group.TopicInfo{}, false
	}
	return group.TopicInfo{Name: t.meta.Name, ID: t.id, Partitions: t.meta.Partitions}, true
}

func (g groupTopics) TopicByID(id [16]byte) (group.TopicInfo, bool) {
	t := g.b.topicByID(id)
	if t == nil {
		return group.TopicInfo{}, false
	}
	return group.TopicInfo{Name: t.meta.Name, ID: t.id, Partitions: t.meta.Partitions}, true
}

func (g groupTopics) TopicNames() []string {
	g.b.mu.RLock()
	defer g.b.mu.RUnlock()
	out := make([]string, 0, len(g.b.topics))
	for name := range g.b.topics {
		out = append(out, name)
	}
	return out
}
