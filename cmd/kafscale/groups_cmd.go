package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kafscale/kafscale/admin"
)

const groupsUsage = `usage: kafscale groups <verb> [flags] [GROUP...]

verbs (like kafka-consumer-groups.sh; they speak the Kafka protocol, so they work against
any Kafka-compatible cluster):
  list                         list groups (--state filters)
  describe GROUP...            committed offsets, log end and lag per partition, and who
                               consumes it (--members: members and their assignments)
  delete GROUP...              delete inactive groups and their committed offsets
  reset-offsets --group G      move committed offsets of an inactive group: one of
                               --to-earliest --to-latest --to-current --to-offset N
                               --shift-by N --to-datetime T, for --topic T[:P,P...] or
                               --all-topics; a dry run unless --execute is given

Run 'kafscale groups <verb> -h' for a verb's flags.
`

// groupsCmd holds the flags every groups verb shares.
type groupsCmd struct {
	cfg           admin.Config
	bootstrap     string
	output        string
	commandConfig string
	stdout        io.Writer
}

func (g *groupsCmd) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("kafscale groups "+name, flag.ContinueOnError)
	fs.StringVar(&g.bootstrap, "bootstrap-server", strings.Join(g.cfg.Brokers, ","), "comma-separated host:port list of brokers to bootstrap from")
	fs.StringVar(&g.bootstrap, "b", g.bootstrap, "short for --bootstrap-server")
	fs.DurationVar(&g.cfg.Timeout, "timeout", g.cfg.Timeout, "bound on the whole operation")
	fs.StringVar(&g.output, "output", "table", "table or json")
	fs.StringVar(&g.commandConfig, "command-config", "", "Kafka client properties for an SSL or SASL listener, as Kafka's tools take them: security.protocol, ssl.truststore.location (PEM), sasl.mechanism, sasl.jaas.config")
	return fs
}

// parse parses flags that may come before or after the positional arguments
// (`describe g1 --members`), and checks the shared ones.
func (g *groupsCmd) parse(fs *flag.FlagSet, args []string) (positional []string, help bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, true, nil
			}
			return nil, false, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if err := applyEnv(fs); err != nil {
		return nil, false, err
	}
	g.cfg.Brokers = nil
	for _, b := range strings.Split(g.bootstrap, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if _, _, err := splitHostPort("bootstrap-server", b); err != nil {
				return nil, false, err
			}
			g.cfg.Brokers = append(g.cfg.Brokers, b)
		}
	}
	if g.output != "table" && g.output != "json" {
		return nil, false, fmt.Errorf("--output must be table or json (set to %q)", g.output)
	}
	if g.commandConfig != "" {
		sec, err := admin.LoadCommandConfig(g.commandConfig)
		if err != nil {
			return nil, false, err
		}
		g.cfg.Security = sec
	}
	return positional, false, g.cfg.Validate()
}

// runGroups dispatches `kafscale groups <verb>`.
func runGroups(args []string) error {
	return runGroupsTo(os.Stdout, args)
}

func runGroupsTo(stdout io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, groupsUsage)
		if len(args) == 0 {
			return errors.New("missing verb")
		}
		return nil
	}
	g := &groupsCmd{cfg: admin.DefaultConfig(), stdout: stdout}
	switch args[0] {
	case "list":
		return g.list(args[1:])
	case "describe":
		return g.describe(args[1:])
	case "delete":
		return g.delete(args[1:])
	case "reset-offsets":
		return g.resetOffsets(args[1:])
	}
	return fmt.Errorf("unknown verb %q (want list, describe, delete or reset-offsets)", args[0])
}

func (g *groupsCmd) client() (*admin.Client, error) { return admin.New(g.cfg) }

func (g *groupsCmd) writeJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (g *groupsCmd) table() *tabwriter.Writer {
	return tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
}

func (g *groupsCmd) list(args []string) error {
	fs := g.flags("list")
	state := fs.String("state", "", "comma-separated states to list (Empty, Stable, PreparingRebalance, CompletingRebalance, Assigning, Reconciling, Dead)")
	pos, help, err := g.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("list takes no arguments (got %q)", pos)
	}
	var states []string
	for _, s := range strings.Split(*state, ",") {
		if s = strings.TrimSpace(s); s != "" {
			states = append(states, s)
		}
	}
	cl, err := g.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	groups, err := cl.ListGroups(context.Background(), states...)
	if err != nil {
		return err
	}
	if g.output == "json" {
		return g.writeJSON(groups)
	}
	w := g.table()
	fmt.Fprintln(w, "GROUP\tTYPE\tSTATE\tPROTOCOL-TYPE")
	for _, l := range groups {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", l.Group, dash(l.Type), dash(l.State), dash(l.ProtocolType))
	}
	return w.Flush()
}

func (g *groupsCmd) describe(args []string) error {
	fs := g.flags("describe")
	members := fs.Bool("members", false, "show members and their assignments instead of offsets")
	all := fs.Bool("all-groups", false, "describe every group")
	groups, help, err := g.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(groups) == 0 && !*all {
		return errors.New("describe needs a GROUP argument or --all-groups")
	}
	cl, err := g.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := context.Background()
	if *all {
		listed, err := cl.ListGroups(ctx)
		if err != nil {
			return err
		}
		for _, l := range listed {
			groups = append(groups, l.Group)
		}
	}
	descs := []*admin.GroupDescription{} // JSON [] when there are none
	var missing []string
	for _, name := range groups {
		d, err := cl.DescribeGroup(ctx, name)
		if errors.Is(err, admin.ErrGroupNotFound) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return err
		}
		descs = append(descs, d)
	}
	if g.output == "json" {
		if err := g.writeJSON(descs); err != nil {
			return err
		}
	} else {
		for i, d := range descs {
			if i > 0 {
				fmt.Fprintln(g.stdout)
			}
			if err := g.describeTable(d, *members); err != nil {
				return err
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("group %s does not exist", strings.Join(missing, ", "))
	}
	return nil
}

func (g *groupsCmd) describeTable(d *admin.GroupDescription, members bool) error {
	proto := d.Protocol
	if d.Type == admin.TypeClassic && d.ProtocolType != "" {
		proto = d.ProtocolType + "/" + dash(d.Protocol)
	}
	fmt.Fprintf(g.stdout, "Group %s (%s, %s, state %s, %d members, coordinator %d, total lag %d)\n",
		d.Group, d.Type, dash(proto), d.State, len(d.Members), d.Coordinator, d.TotalLag())
	w := g.table()
	if members {
		fmt.Fprintln(w, "GROUP\tCONSUMER-ID\tGROUP-INSTANCE-ID\tHOST\tCLIENT-ID\t#PARTITIONS\tASSIGNMENT")
		for _, m := range d.Members {
			n := 0
			for _, ps := range m.Assigned {
				n += len(ps)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Group, m.MemberID, dash(m.InstanceID), dash(m.Host), dash(m.ClientID), n, dash(admin.FormatPartitions(m.Assigned)))
		}
		return w.Flush()
	}
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, o := range d.Offsets {
		end := offsetOrDash(o.LogEnd)
		if o.Err != "" {
			end = "error: " + o.Err
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Group, o.Topic, o.Partition,
			offsetOrDash(o.Committed), end, offsetOrDash(o.Lag), dash(o.MemberID), dash(o.Host), dash(o.ClientID))
	}
	return w.Flush()
}

func (g *groupsCmd) delete(args []string) error {
	fs := g.flags("delete")
	groups, help, err := g.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(groups) == 0 {
		return errors.New("delete needs at least one GROUP argument")
	}
	cl, err := g.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	results, err := cl.DeleteGroups(context.Background(), groups...)
	if err != nil {
		return err
	}
	var failed []string
	type row struct {
		Group string `json:"group"`
		Err   string `json:"error,omitempty"`
	}
	rows := make([]row, 0, len(groups))
	for _, name := range groups {
		r := row{Group: name}
		if err := results[name]; err != nil {
			r.Err = err.Error()
			failed = append(failed, name)
		}
		rows = append(rows, r)
	}
	if g.output == "json" {
		if err := g.writeJSON(rows); err != nil {
			return err
		}
	} else {
		for _, r := range rows {
			if r.Err != "" {
				fmt.Fprintf(g.stdout, "Group %s not deleted: %s\n", r.Group, r.Err)
			} else {
				fmt.Fprintf(g.stdout, "Group %s deleted\n", r.Group)
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not delete %d of %d groups", len(failed), len(groups))
	}
	return nil
}

// topicFlag collects --topic T or T:P,P values.
type topicFlag map[string][]int32

func (t topicFlag) String() string { return "" }

func (t topicFlag) Set(v string) error {
	name, parts, hasParts := strings.Cut(v, ":")
	if name == "" {
		return fmt.Errorf("want TOPIC or TOPIC:P,P (got %q)", v)
	}
	if !hasParts {
		t[name] = nil
		return nil
	}
	for _, s := range strings.Split(parts, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil || p < 0 {
			return fmt.Errorf("partition %q of %s is not a partition number", s, name)
		}
		t[name] = append(t[name], int32(p))
	}
	return nil
}

func (g *groupsCmd) resetOffsets(args []string) error {
	fs := g.flags("reset-offsets")
	group := fs.String("group", "", "the group whose offsets to reset (required)")
	topics := topicFlag{}
	fs.Var(topics, "topic", "TOPIC or TOPIC:P,P... to reset (repeatable)")
	allTopics := fs.Bool("all-topics", false, "reset every topic the group has committed offsets for")
	execute := fs.Bool("execute", false, "commit the new offsets (without it, only print them)")
	toEarliest := fs.Bool("to-earliest", false, "move to the log start")
	toLatest := fs.Bool("to-latest", false, "move to the log end")
	toCurrent := fs.Bool("to-current", false, "move to the committed offset (the log end where none)")
	toOffset := fs.String("to-offset", "", "move to this offset (moved into the log's bounds)")
	shiftBy := fs.String("shift-by", "", "move by this many records from the committed offset (negative: back)")
	toDatetime := fs.String("to-datetime", "", "move to the first record at or after this time (RFC 3339, e.g. 2026-12-01T10:00:00Z)")
	pos, help, err := g.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("reset-offsets takes no arguments (got %q); name the group with --group", pos)
	}
	if *group == "" {
		return errors.New("--group is required")
	}
	if len(topics) == 0 && !*allTopics {
		return errors.New("--topic or --all-topics is required")
	}
	var target admin.ResetTarget
	chosen := 0
	choose := func(set bool, k admin.ResetKind) {
		if set {
			chosen++
			target.Kind = k
		}
	}
	choose(*toEarliest, admin.ToEarliest)
	choose(*toLatest, admin.ToLatest)
	choose(*toCurrent, admin.ToCurrent)
	choose(*toOffset != "", admin.ToOffset)
	choose(*shiftBy != "", admin.ShiftBy)
	choose(*toDatetime != "", admin.ToDatetime)
	if chosen != 1 {
		return errors.New("give exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime")
	}
	switch target.Kind {
	case admin.ToOffset:
		if target.Offset, err = strconv.ParseInt(*toOffset, 10, 64); err != nil || target.Offset < 0 {
			return fmt.Errorf("--to-offset must be an offset >= 0 (set to %q)", *toOffset)
		}
	case admin.ShiftBy:
		if target.Shift, err = strconv.ParseInt(*shiftBy, 10, 64); err != nil {
			return fmt.Errorf("--shift-by must be a whole number (set to %q)", *shiftBy)
		}
	case admin.ToDatetime:
		if target.Time, err = time.Parse(time.RFC3339Nano, *toDatetime); err != nil {
			return fmt.Errorf("--to-datetime must be an RFC 3339 time like 2026-12-01T10:00:00Z (set to %q)", *toDatetime)
		}
	}
	cl, err := g.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	scope := admin.ResetScope{Topics: topics, AllTopics: *allTopics}
	changes, err := cl.ResetOffsets(context.Background(), *group, scope, target, *execute)
	if err != nil {
		return err
	}
	if g.output == "json" {
		if err := g.writeJSON(changes); err != nil {
			return err
		}
	} else {
		w := g.table()
		fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tOLD-OFFSET\tNEW-OFFSET\tRESULT")
		for _, ch := range changes {
			result := "dry run"
			switch {
			case ch.Err != "":
				result = "error: " + ch.Err
			case *execute:
				result = "committed"
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%s\n", *group, ch.Topic, ch.Partition, offsetOrDash(ch.Old), ch.New, result)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if !*execute {
			fmt.Fprintln(g.stdout, "Dry run: nothing was committed. Add --execute to commit these offsets.")
		}
	}
	for _, ch := range changes {
		if ch.Err != "" {
			return fmt.Errorf("some offsets were not committed")
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func offsetOrDash(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}
