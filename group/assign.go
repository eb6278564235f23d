package group

// Server-side assignors of KIP-848 consumer groups, named as Kafka names them: "uniform"
// (Kafka's default: balanced and sticky) and "range" (per topic, contiguous ranges, so
// topics with the same partition count are co-partitioned).

import (
	"bytes"
	"cmp"
	"slices"
)

// Assignor names.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// tp is one partition.
type tp struct {
	id [16]byte
	p  int32
}

func cmpTP(a, b tp) int {
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.p, b.p)
}

// assignMember is one member as an assignor sees it.
type assignMember struct {
	id     string
	topics map[[16]byte]bool // subscribed topics that exist
	prev   map[tp]bool       // its previous target, for stickiness
}

// assign runs the named assignor over members (sorted by id) and topics (id -> partition
// count). Every partition of a topic some member subscribes to goes to exactly one
// member subscribed to that topic.
func assign(name string, members []assignMember, topics map[[16]byte]int32) map[string]map[tp]bool {
	out := make(map[string]map[tp]bool, len(members))
	for _, m := range members {
		out[m.id] = make(map[tp]bool)
	}
	if name == AssignorRange {
		assignRange(members, topics, out)
	} else {
		assignUniform(members, topics, out)
	}
	return out
}

// assignRange gives each topic's subscribers, ordered by member id, contiguous ranges:
// with n partitions and k subscribers, each gets n/k and the first n%k one more.
func assignRange(members []assignMember, topics map[[16]byte]int32, out map[string]map[tp]bool) {
	for _, id := range sortedTopicIDs(topics) {
		var subs []string
		for _, m := range members {
			if m.topics[id] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n, k := topics[id], int32(len(subs))
		next := int32(0)
		for i, s := range subs {
			count := n / k
			if int32(i) < n%k {
				count++
			}
			for p := next; p < next+count; p++ {
				out[s][tp{id, p}] = true
			}
			next += count
		}
	}
}

// assignUniform balances the partition count per member and keeps partitions where they
// were: members first keep their previous partitions up to an even share (one more for
// as many members as the division leaves over), then the rest go to the least loaded
// subscribed member, partitions of topics with fewer subscribers first (so that members
// with narrower subscriptions fill up before the others take the shared topics).
func assignUniform(members []assignMember, topics map[[16]byte]int32, out map[string]map[tp]bool) {
	subscribers := make(map[[16]byte]int)
	for _, m := range members {
		for id := range m.topics {
			subscribers[id]++
		}
	}
	var all []tp
	for _, id := range sortedTopicIDs(topics) {
		if subscribers[id] == 0 {
			continue
		}
		for p := range topics[id] {
			all = append(all, tp{id, p})
		}
	}
	slices.SortStableFunc(all, func(a, b tp) int { return cmp.Compare(subscribers[a.id], subscribers[b.id]) })
	var active []assignMember
	for _, m := range members {
		if len(m.topics) > 0 {
			active = append(active, m)
		}
	}
	if len(active) == 0 {
		return
	}
	base, extra := len(all)/len(active), len(all)%len(active)
	taken := make(map[tp]bool, len(all))
	valid := func(m assignMember, x tp) bool { return m.topics[x.id] && x.p < topics[x.id] && !taken[x] }
	// Sticky, up to the even share.
	leftover := make(map[string][]tp)
	for _, m := range active {
		prev := make([]tp, 0, len(m.prev))
		for x := range m.prev {
			prev = append(prev, x)
		}
		slices.SortFunc(prev, cmpTP)
		for _, x := range prev {
			if !valid(m, x) {
				continue
			}
			if len(out[m.id]) < base {
				out[m.id][x] = true
				taken[x] = true
			} else {
				leftover[m.id] = append(leftover[m.id], x)
			}
		}
	}
	// Sticky, one more for as many members as the division leaves over.
	for _, m := range active {
		if extra == 0 {
			break
		}
		for _, x := range leftover[m.id] {
			if !taken[x] {
				out[m.id][x] = true
				taken[x] = true
				extra--
				break
			}
		}
	}
	// The rest, to the least loaded subscribed member.
	for _, x := range all {
		if taken[x] {
			continue
		}
		best := -1
		for i, m := range active {
			if m.topics[x.id] && (best < 0 || len(out[m.id]) < len(out[active[best].id])) {
				best = i
			}
		}
		if best >= 0 {
			out[active[best].id][x] = true
			taken[x] = true
		}
	}
}

func sortedTopicIDs(topics map[[16]byte]int32) [][16]byte {
	ids := make([][16]byte, 0, len(topics))
	for id := range topics {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// toTopicPartitions converts a partition set to the wire shape, sorted.
func toTopicPartitions(set map[tp]bool) []TopicPartitions {
	byTopic := make(map[[16]byte][]int32)
	for x := range set {
		byTopic[x.id] = append(byTopic[x.id], x.p)
	}
	out := make([]TopicPartitions, 0, len(byTopic))
	for _, id := range sortedTopicIDs(countMap(byTopic)) {
		ps := byTopic[id]
		slices.Sort(ps)
		out = append(out, TopicPartitions{TopicID: id, Partitions: ps})
	}
	return out
}

func countMap(m map[[16]byte][]int32) map[[16]byte]int32 {
	out := make(map[[16]byte]int32, len(m))
	for id, ps := range m {
		out[id] = int32(len(ps))
	}
	return out
}

// fromTopicPartitions converts the wire shape to a partition set.
func fromTopicPartitions(tps []TopicPartitions) map[tp]bool {
	out := make(map[tp]bool)
	for _, t := range tps {
		for _, p := range t.Partitions {
			out[tp{t.TopicID, p}] = true
		}
	}
	return out
}
