package groups

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/admin"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// kafscaleGroups runs `kafscale groups VERB --bootstrap-server addr --output json ARGS...` as a
// user would and returns its stdout, stderr and whether it exited 0.
func kafscaleGroups(t *testing.T, addr string, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The defaults go before the test's own flags, so that a test can override them.
	args = append([]string{"groups", args[0], "--bootstrap-server", addr, "--output", "json"}, args[1:]...)
	cmd := exec.CommandContext(ctx, testbroker.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kafscale %s timed out", strings.Join(args, " "))
	}
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("cannot run kafscale %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), err == nil
}

// mustGroups runs kafscaleGroups, fails the test unless it succeeds, and decodes its JSON.
func mustGroups(t *testing.T, addr string, into any, args ...string) {
	t.Helper()
	out, errOut, ok := kafscaleGroups(t, addr, args...)
	if !ok {
		t.Fatalf("kafscale groups %s failed: %s", strings.Join(args, " "), errOut)
	}
	if err := json.Unmarshal([]byte(out), into); err != nil {
		t.Fatalf("kafscale groups %s printed no JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

func describeCLI(t *testing.T, addr, group string) admin.GroupDescription {
	t.Helper()
	var ds []admin.GroupDescription
	mustGroups(t, addr, &ds, "describe", group)
	if len(ds) != 1 || ds[0].Group != group {
		t.Fatalf("describe %s returned %+v", group, ds)
	}
	return ds[0]
}

// offsetsOf returns committed offset and lag per partition of topic in d.
func offsetsOf(d admin.GroupDescription, topic string) (committed, lag map[int32]int64) {
	committed, lag = map[int32]int64{}, map[int32]int64{}
	for _, o := range d.Offsets {
		if o.Topic == topic {
			committed[o.Partition], lag[o.Partition] = o.Committed, o.Lag
		}
	}
	return committed, lag
}

// TestGroupsCLIOnAClassicGroup walks `kafscale groups` through a classic group's life as
// an operator would: describe it while two members consume (members, assignments, lag),
// refuse a reset while it is active, show the lag once it is empty and more records
// arrive, reset offsets (dry run, shift, by time, to latest), delete it.
func TestGroupsCLIOnAClassicGroup(t *testing.T) {
	const partitions = 4
	b := startBroker(t)
	topic, group := uniqueName("cli"), uniqueName("g-cli")
	createTopic(t, b.Addr, topic, partitions)
	prod := producer(t, b.Addr)
	adm := newClient(t, b.Addr)
	before := time.Now().Add(-time.Minute)
	hw := produce(t, prod, topic, partitions, 0, 400)

	s := newSeen()
	stop1 := startMember(t, b.Addr, group, topic, s)
	stop2 := startMember(t, b.Addr, group, topic, s)
	waitFor(t, 60*time.Second, "two members consuming and committing every record", func() bool {
		c := committed(t, adm, group, topic, partitions)
		st, n := describe(t, adm, group)
		return st == "Stable" && n == 2 && maps.Equal(c, hw)
	})

	d := describeCLI(t, b.Addr, group)
	if d.Type != "classic" || d.State != "Stable" || len(d.Members) != 2 || d.ProtocolType != "consumer" {
		t.Fatalf("describe of an active group: type %q state %q protocol type %q members %d", d.Type, d.State, d.ProtocolType, len(d.Members))
	}
	var assigned []int32
	for _, m := range d.Members {
		if m.MemberID == "" || m.ClientID != "kafscale-groups" {
			t.Errorf("member %+v lacks its id or client id", m)
		}
		assigned = append(assigned, m.Assigned[topic]...)
	}
	slices.Sort(assigned)
	if !slices.Equal(assigned, []int32{0, 1, 2, 3}) {
		t.Errorf("members are assigned partitions %v, want each of 0-3 once", assigned)
	}
	for _, o := range d.Offsets {
		if o.Committed != hw[o.Partition] || o.LogEnd != hw[o.Partition] || o.Lag != 0 || o.MemberID == "" {
			t.Errorf("partition %d of an up-to-date group: %+v, want committed = log end = %d, lag 0, a member", o.Partition, o, hw[o.Partition])
		}
	}

	if _, errOut, ok := kafscaleGroups(t, b.Addr, "reset-offsets", "--group", group, "--all-topics", "--to-earliest", "--execute"); ok || !strings.Contains(errOut, "no members") {
		t.Fatalf("reset-offsets of an active group: ok=%v stderr %q, want a refusal", ok, errOut)
	}

	stop1()
	stop2()
	waitFor(t, 30*time.Second, "the group to be empty", func() bool { st, _ := describe(t, adm, group); return st == "Empty" })
	end := map[int32]int64{}
	for p, n := range produce(t, prod, topic, partitions, 400, 40) {
		end[p] = hw[p] + n
	}

	var listed []admin.GroupListing
	mustGroups(t, b.Addr, &listed, "list", "--state", "Empty")
	if !slices.ContainsFunc(listed, func(l admin.GroupListing) bool { return l.Group == group && l.Type == "classic" }) {
		t.Errorf("list --state Empty = %+v, want %s in it", listed, group)
	}
	mustGroups(t, b.Addr, &listed, "list", "--state", "Stable")
	if slices.ContainsFunc(listed, func(l admin.GroupListing) bool { return l.Group == group }) {
		t.Errorf("list --state Stable = %+v, lists the empty group %s", listed, group)
	}

	d = describeCLI(t, b.Addr, group)
	c, lag := offsetsOf(d, topic)
	for p := range int32(partitions) {
		if c[p] != hw[p] || lag[p] != end[p]-hw[p] {
			t.Errorf("partition %d of the empty group: committed %d lag %d, want %d and %d", p, c[p], lag[p], hw[p], end[p]-hw[p])
		}
	}
	if d.State != "Empty" || len(d.Members) != 0 || d.TotalLag() != 40 {
		t.Errorf("empty group: state %q, %d members, total lag %d; want Empty, 0, 40", d.State, len(d.Members), d.TotalLag())
	}

	var changes []admin.OffsetChange
	mustGroups(t, b.Addr, &changes, "reset-offsets", "--group", group, "--all-topics", "--to-earliest")
	if len(changes) != partitions || !maps.Equal(committed(t, adm, group, topic, partitions), hw) {
		t.Fatalf("a dry run planned %+v and must change nothing", changes)
	}
	for _, ch := range changes {
		if ch.New != 0 || ch.Old != hw[ch.Partition] {
			t.Errorf("dry run to earliest for partition %d: %+v", ch.Partition, ch)
		}
	}

	mustGroups(t, b.Addr, &changes, "reset-offsets", "--group", group, "--topic", topic+":1", "--shift-by", "-5", "--execute")
	if got := committed(t, adm, group, topic, partitions); got[1] != hw[1]-5 || got[0] != hw[0] {
		t.Errorf("after --shift-by -5 on partition 1: committed %v, want partition 1 at %d and the others unchanged", got, hw[1]-5)
	}

	mustGroups(t, b.Addr, &changes, "reset-offsets", "--group", group, "--topic", topic, "--to-datetime", before.UTC().Format(time.RFC3339), "--execute")
	if got := committed(t, adm, group, topic, partitions); !maps.Equal(got, map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0}) {
		t.Errorf("after --to-datetime before the first record: committed %v, want every partition at 0", got)
	}

	mustGroups(t, b.Addr, &changes, "reset-offsets", "--group", group, "--all-topics", "--to-latest", "--execute")
	if got := committed(t, adm, group, topic, partitions); !maps.Equal(got, end) {
		t.Errorf("after --to-latest: committed %v, want the log ends %v", got, end)
	}

	var deleted []struct {
		Group string `json:"group"`
		Err   string `json:"error"`
	}
	mustGroups(t, b.Addr, &deleted, "delete", group)
	if len(deleted) != 1 || deleted[0].Err != "" {
		t.Fatalf("delete %s: %+v", group, deleted)
	}
	if _, errOut, ok := kafscaleGroups(t, b.Addr, "describe", group); ok || !strings.Contains(errOut, "does not exist") {
		t.Errorf("describe of a deleted group: ok=%v stderr %q, want 'does not exist'", ok, errOut)
	}
	if got := committed(t, adm, group, topic, partitions); !maps.Equal(got, map[int32]int64{0: -1, 1: -1, 2: -1, 3: -1}) {
		t.Errorf("a deleted group still has offsets %v", got)
	}
}

// TestGroupsCLIDescribesAKIP848Group: a group of the consumer protocol (KIP-848) is
// described through ConsumerGroupDescribe, with its server-side assignor and assignment.
func TestGroupsCLIDescribesAKIP848Group(t *testing.T) {
	const partitions = 3
	b := startBroker(t)
	topic, group := uniqueName("cli848"), uniqueName("g-cli848")
	createTopic(t, b.Addr, topic, partitions)
	hw := produce(t, producer(t, b.Addr), topic, partitions, 0, 90)
	adm := newClient(t, b.Addr)

	opts := append(groupConsumerOpts(b.Addr, group, topic), kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	cl := newClient(t, b.Addr, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 60*time.Second, "the KIP-848 member to commit every record", func() bool {
		return maps.Equal(committed(t, adm, group, topic, partitions), hw)
	})

	d := describeCLI(t, b.Addr, group)
	if d.Type != "consumer" || d.State != "Stable" || len(d.Members) != 1 || d.Protocol == "" {
		t.Fatalf("describe of a KIP-848 group: %+v", d)
	}
	if got := d.Members[0].Assigned[topic]; !slices.Equal(got, []int32{0, 1, 2}) {
		t.Errorf("the only member is assigned %v, want [0 1 2]", got)
	}
	c, lag := offsetsOf(d, topic)
	for p := range int32(partitions) {
		if c[p] != hw[p] || lag[p] != 0 {
			t.Errorf("partition %d: committed %d lag %d, want %d and 0", p, c[p], lag[p], hw[p])
		}
	}
	var listed []admin.GroupListing
	mustGroups(t, b.Addr, &listed, "list")
	if !slices.ContainsFunc(listed, func(l admin.GroupListing) bool { return l.Group == group && l.Type == "consumer" }) {
		t.Errorf("list = %+v, want %s of type consumer", listed, group)
	}
}

// TestGroupsCLIRejectsBadInvocations: each bad flag or argument is named in the error
// and nothing reaches the cluster.
func TestGroupsCLIRejectsBadInvocations(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown verb "frobnicate"`},
		{[]string{"describe"}, "needs a GROUP"},
		{[]string{"delete"}, "needs at least one GROUP"},
		{[]string{"list", "--output", "yaml"}, "--output must be table or json"},
		{[]string{"list", "--timeout", "0s"}, "--timeout must be > 0"},
		{[]string{"reset-offsets", "--topic", "t", "--to-earliest"}, "--group is required"},
		{[]string{"reset-offsets", "--group", "g", "--to-earliest"}, "--topic or --all-topics"},
		{[]string{"reset-offsets", "--group", "g", "--topic", "t"}, "exactly one of"},
		{[]string{"reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"}, "exactly one of"},
		{[]string{"reset-offsets", "--group", "g", "--topic", "t:x", "--to-earliest"}, `partition "x" of t`},
		{[]string{"reset-offsets", "--group", "g", "--topic", "t", "--to-offset", "-1"}, "--to-offset must be"},
		{[]string{"reset-offsets", "--group", "g", "--topic", "t", "--shift-by", "two"}, "--shift-by must be"},
		{[]string{"reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"}, "--to-datetime must be"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// An address nothing listens on: a bad invocation must fail before dialing.
			_, errOut, ok := kafscaleGroups(t, "127.0.0.1:1", tt.args...)
			if ok || !strings.Contains(errOut, tt.want) {
				t.Errorf("ok=%v stderr %q, want an error containing %q", ok, errOut, tt.want)
			}
		})
	}
	if _, errOut, ok := kafscaleGroups(t, "no-port", "list"); ok || !strings.Contains(errOut, "--bootstrap-server") {
		t.Errorf("a bootstrap address without a port: ok=%v stderr %q", ok, errOut)
	}
}
