package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/admin"
)

const topicsUsage = `usage: kafscale topics <verb> [flags] [NAME...]

verbs (like kafka-topics.sh, kafka-configs.sh and kafka-delete-records.sh; they speak the
Kafka protocol, so they work against any Kafka-compatible cluster):
  create NAME --partitions N    create a topic (--config k=v, repeatable;
                                --replication-factor; --if-not-exists)
  list                          list topics (--internal: with __consumer_offsets)
  describe [NAME...]            partitions with leader, leader epoch, log start and end
                                offsets, and the configs not at their defaults with their
                                sources (every topic when none is named)
  delete NAME...                delete topics (--if-exists: a missing one is no error)
  alter-config NAME             --set k=v and --delete k (each repeatable), one
                                IncrementalAlterConfigs request
  delete-records NAME           move the log start of --partition P to --offset O (alias
                                --before-offset; -1: the high watermark), print the new
                                low watermark

Every verb takes -b/--bootstrap-server host:port[,host:port] (default 127.0.0.1:9092, or
KAFSCALE_BOOTSTRAP_SERVER), --output table|json, --timeout (30s) and --command-config
(Kafka client properties for an SSL or SASL listener).
Exit status: 0 done, 1 the operation failed, 2 bad usage.
Run 'kafscale topics <verb> -h' for a verb's flags.
`

// usageError is a bad invocation (unknown verb, missing argument, bad flag value): main
// exits 2 for it, 1 for an operation that failed.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitCode is the process's exit status for a command's error.
func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// topicsCmd holds the flags every topics verb shares (those of groups, and -b).
type topicsCmd struct {
	groupsCmd
	verb     string
	synopsis string // the verb's usage line after its name, for -h
	command  string // the command before the verb in messages ("" means topics)
}

// commandName returns the command the verb belongs to, for messages.
func (t *topicsCmd) commandName() string {
	if t.command == "" {
		return "topics"
	}
	return t.command
}

// runTopics dispatches `kafscale topics <verb>`.
func runTopics(args []string) error { return runTopicsTo(os.Stdout, args) }

func runTopicsTo(stdout io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, topicsUsage)
		return usagef("missing verb")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, topicsUsage)
		return nil
	}
	t := &topicsCmd{groupsCmd: groupsCmd{cfg: admin.DefaultConfig(), stdout: stdout}, verb: args[0]}
	switch args[0] {
	case "create":
		return t.create(args[1:])
	case "list":
		return t.list(args[1:])
	case "describe":
		return t.describe(args[1:])
	case "delete":
		return t.delete(args[1:])
	case "alter-config":
		return t.alterConfig(args[1:])
	case "delete-records":
		return t.deleteRecords(args[1:])
	}
	return usagef("unknown verb %q (want create, list, describe, delete, alter-config or delete-records; see kafscale topics -h)", args[0])
}

// flags returns the verb's flag set with the shared flags; synopsis is its usage line.
func (t *topicsCmd) flags(synopsis string) *flag.FlagSet {
	fs := t.groupsCmd.flags(t.verb)
	fs.Init("kafscale "+t.commandName()+" "+t.verb, flag.ContinueOnError)
	// Parse errors are returned (main prints them once); parse prints the flags for -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	t.synopsis = synopsis
	return fs
}

// parse parses the verb's flags and checks the shared ones; every failure is a usageError
// that names the verb.
func (t *topicsCmd) parse(fs *flag.FlagSet, args []string) (positional []string, help bool, err error) {
	positional, help, err = t.groupsCmd.parse(fs, args)
	if err != nil {
		return nil, false, usagef("%s: %v", t.verb, err)
	}
	if help {
		fmt.Fprintf(t.stdout, "usage: kafscale %s %s %s\n\nflags:\n", t.commandName(), t.verb, t.synopsis)
		fs.SetOutput(t.stdout)
		fs.PrintDefaults()
	}
	return positional, help, nil
}

// client connects to the cluster named by the flags.
func (t *topicsCmd) client() (*admin.Client, error) { return admin.New(t.cfg) }

// configFlag collects repeatable KEY=VALUE values in the order given.
type configFlag struct {
	keys   []string
	values map[string]string
}

func (c *configFlag) String() string { return "" }

func (c *configFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want KEY=VALUE (got %q)", v)
	}
	if c.values == nil {
		c.values = map[string]string{}
	}
	if _, dup := c.values[k]; dup {
		return fmt.Errorf("%s given twice", k)
	}
	c.keys = append(c.keys, k)
	c.values[k] = val
	return nil
}

// keysFlag collects repeatable config names.
type keysFlag []string

func (k *keysFlag) String() string { return "" }

func (k *keysFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" || strings.Contains(v, "=") {
		return fmt.Errorf("want a config name (got %q)", v)
	}
	*k = append(*k, v)
	return nil
}

// oneName checks that the verb got exactly one NAME.
func (t *topicsCmd) oneName(pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", usagef("%s: missing NAME (kafscale %s %s NAME ...)", t.verb, t.commandName(), t.verb)
	case 1:
		return pos[0], nil
	}
	return "", usagef("%s: takes one NAME (got %q)", t.verb, pos)
}

func (t *topicsCmd) create(args []string) error {
	fs := t.flags("NAME --partitions N [--replication-factor R] [--config k=v]... [--if-not-exists]")
	partitions := fs.String("partitions", "", "number of partitions (required; -1: the cluster's default)")
	rf := fs.String("replication-factor", "-1", "replicas per partition (-1: the cluster's default)")
	var configs configFlag
	fs.Var(&configs, "config", "KEY=VALUE topic config (repeatable)")
	ifNotExists := fs.Bool("if-not-exists", false, "succeed if the topic already exists")
	pos, help, err := t.parse(fs, args)
	if help || err != nil {
		return err
	}
	name, err := t.oneName(pos)
	if err != nil {
		return err
	}
	if *partitions == "" {
		return usagef("create: --partitions is required")
	}
	n, err := strconv.ParseInt(*partitions, 10, 32)
	if err != nil || (n < 1 && n != -1) {
		return usagef("create: --partitions must be >= 1 or -1 (set to %q)", *partitions)
	}
	r, err := strconv.ParseInt(*rf, 10, 16)
	if err != nil || (r < 1 && r != -1) {
		return usagef("create: --replication-factor must be >= 1 or -1 (set to %q)", *rf)
	}
	cfgs := make(map[string]*string, len(configs.keys))
	for _, k := range configs.keys {
		v := configs.values[k]
		cfgs[k] = &v
	}
	cl, err := t.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	type result struct {
		admin.CreatedTopic
		Created bool `json:"created"`
	}
	created, err := cl.CreateTopic(context.Background(), name, int32(n), int16(r), cfgs)
	res := result{CreatedTopic: created, Created: err == nil}
	switch {
	case err != nil && *ifNotExists && errors.Is(err, kerr.TopicAlreadyExists):
		res.Topic = name
	case err != nil:
		return fmt.Errorf("create %s: %w", name, err)
	}
	if t.output == "json" {
		return t.writeJSON(res)
	}
	if !res.Created {
		fmt.Fprintf(t.stdout, "Topic %s already exists\n", name)
		return nil
	}
	fmt.Fprintf(t.stdout, "Created topic %s (%d partitions, replication factor %d", name, res.Partitions, res.ReplicationFactor)
	if res.ID != "" {
		fmt.Fprintf(t.stdout, ", id %s", res.ID)
	}
	fmt.Fprintln(t.stdout, ")")
	return nil
}

func (t *topicsCmd) list(args []string) error {
	fs := t.flags("[--internal]")
	internal := fs.Bool("internal", false, "list internal topics (__consumer_offsets) too")
	pos, help, err := t.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list: takes no arguments (got %q)", pos)
	}
	cl, err := t.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	topics, err := cl.ListTopics(context.Background(), *internal)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if t.output == "json" {
		return t.writeJSON(topics)
	}
	w := t.table()
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION-FACTOR\tINTERNAL\tID")
	for _, l := range topics {
		in := "-"
		if l.Internal {
			in = "yes"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", l.Topic, l.Partitions, l.ReplicationFactor, in, dash(l.ID))
	}
	return w.Flush()
}

func (t *topicsCmd) describe(args []string) error {
	fs := t.flags("[NAME...]")
	names, help, err := t.parse(fs, args)
	if help || err != nil {
		return err
	}
	cl, err := t.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	descs, missing, err := cl.DescribeTopics(context.Background(), names...)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if t.output == "json" {
		if err := t.writeJSON(descs); err != nil {
			return err
		}
	} else {
		for i, d := range descs {
			if i > 0 {
				fmt.Fprintln(t.stdout)
			}
			if err := t.describeTable(d); err != nil {
				return err
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("describe %s: %w", strings.Join(missing, ", "), admin.ErrTopicNotFound)
	}
	return nil
}

func (t *topicsCmd) describeTable(d admin.TopicDescription) error {
	fmt.Fprintf(t.stdout, "Topic %s (%d partitions", d.Topic, len(d.Partitions))
	if d.ID != "" {
		fmt.Fprintf(t.stdout, ", id %s", d.ID)
	}
	if d.Internal {
		fmt.Fprint(t.stdout, ", internal")
	}
	fmt.Fprintln(t.stdout, ")")
	withErr := slices.ContainsFunc(d.Partitions, func(p admin.TopicPartition) bool { return p.Err != "" })
	w := t.table()
	fmt.Fprint(w, "PARTITION\tLEADER\tLEADER-EPOCH\tREPLICAS\tISR\tLOG-START-OFFSET\tLOG-END-OFFSET")
	if withErr {
		fmt.Fprint(w, "\tERROR")
	}
	fmt.Fprintln(w)
	for _, p := range d.Partitions {
		fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\t%s\t%s", p.Partition, p.Leader, p.LeaderEpoch,
			joinIDs(p.Replicas), joinIDs(p.ISR), offsetOrDash(p.LogStart), offsetOrDash(p.LogEnd))
		if withErr {
			fmt.Fprintf(w, "\t%s", dash(p.Err))
		}
		fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	switch {
	case d.ConfigsErr != "":
		fmt.Fprintf(t.stdout, "Configs: cannot describe them: %s\n", d.ConfigsErr)
		return nil
	case len(d.Configs) == 0:
		fmt.Fprintln(t.stdout, "Configs: all at their defaults")
		return nil
	}
	fmt.Fprintln(t.stdout, "Configs not at their defaults:")
	w = t.table()
	fmt.Fprintln(w, "CONFIG\tVALUE\tSOURCE")
	for _, c := range d.Configs {
		v := c.Value
		if c.Sensitive {
			v = "(sensitive)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, dash(v), c.Source)
	}
	return w.Flush()
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return dash(strings.Join(s, ","))
}

func (t *topicsCmd) delete(args []string) error {
	fs := t.flags("NAME... [--if-exists]")
	ifExists := fs.Bool("if-exists", false, "succeed for a topic that does not exist")
	names, help, err := t.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(names) == 0 {
		return usagef("delete: missing NAME (kafscale topics delete NAME...)")
	}
	cl, err := t.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	results, err := cl.DeleteTopics(context.Background(), names...)
	if err != nil {
		return fmt.Errorf("delete %s: %w", strings.Join(names, ", "), err)
	}
	type row struct {
		Topic   string `json:"topic"`
		Deleted bool   `json:"deleted"`
		Err     string `json:"error,omitempty"`
	}
	rows := make([]row, 0, len(names))
	var failed []string
	var firstErr error
	for _, name := range names {
		r := row{Topic: name, Deleted: results[name] == nil}
		if err := results[name]; err != nil && !(*ifExists && errors.Is(err, kerr.UnknownTopicOrPartition)) {
			r.Err = err.Error()
			failed = append(failed, name)
			if firstErr == nil {
				firstErr = err
			}
		}
		rows = append(rows, r)
	}
	if t.output == "json" {
		if err := t.writeJSON(rows); err != nil {
			return err
		}
	} else {
		for _, r := range rows {
			switch {
			case r.Deleted:
				fmt.Fprintf(t.stdout, "Deleted topic %s\n", r.Topic)
			case r.Err == "":
				fmt.Fprintf(t.stdout, "Topic %s does not exist\n", r.Topic)
			default:
				fmt.Fprintf(t.stdout, "Topic %s not deleted: %s\n", r.Topic, r.Err)
			}
		}
	}
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("delete %s: %w", failed[0], firstErr)
	}
	return fmt.Errorf("delete: %d of %d topics not deleted (%s)", len(failed), len(names), strings.Join(failed, ", "))
}

func (t *topicsCmd) alterConfig(args []string) error {
	fs := t.flags("NAME [--set k=v]... [--delete k]...")
	var set configFlag
	var del keysFlag
	fs.Var(&set, "set", "KEY=VALUE config to set (repeatable)")
	fs.Var(&del, "delete", "config to return to its default (repeatable)")
	pos, help, err := t.parse(fs, args)
	if help || err != nil {
		return err
	}
	name, err := t.oneName(pos)
	if err != nil {
		return err
	}
	if len(set.keys) == 0 && len(del) == 0 {
		return usagef("alter-config: give at least one --set k=v or --delete k")
	}
	for _, k := range del {
		if _, both := set.values[k]; both {
			return usagef("alter-config: %s is in both --set and --delete", k)
		}
	}
	cl, err := t.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.AlterTopicConfig(context.Background(), name, set.values, del); err != nil {
		return fmt.Errorf("alter-config %s: %w", name, err)
	}
	if t.output == "json" {
		return t.writeJSON(struct {
			Topic   string            `json:"topic"`
			Set     map[string]string `json:"set"`
			Deleted []string          `json:"deleted"`
		}{name, orEmpty(set.values), append([]string{}, del...)})
	}
	var parts []string
	for _, k := range set.keys {
		parts = append(parts, "set "+k+"="+set.values[k])
	}
	for _, k := range del {
		parts = append(parts, "deleted "+k)
	}
	fmt.Fprintf(t.stdout, "Altered configs of topic %s: %s\n", name, strings.Join(parts, ", "))
	return nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (t *topicsCmd) deleteRecords(args []string) error {
	fs := t.flags("NAME --partition P --offset O")
	partition := fs.String("partition", "", "the partition whose records to delete (required)")
	offset := fs.String("offset", "", "delete the records before this offset; -1: every record (the high watermark) (required)")
	before := fs.String("before-offset", "", "the same as --offset")
	pos, help, err := t.parse(fs, args)
	if help || err != nil {
		return err
	}
	name, err := t.oneName(pos)
	if err != nil {
		return err
	}
	if *partition == "" {
		return usagef("delete-records: --partition is required")
	}
	p, err := strconv.ParseInt(*partition, 10, 32)
	if err != nil || p < 0 {
		return usagef("delete-records: --partition must be a partition number >= 0 (set to %q)", *partition)
	}
	flagName, value := "--offset", *offset
	switch {
	case *offset != "" && *before != "":
		return usagef("delete-records: give --offset or --before-offset, not both")
	case *before != "":
		flagName, value = "--before-offset", *before
	case *offset == "":
		return usagef("delete-records: --offset (or --before-offset) is required")
	}
	o, err := strconv.ParseInt(value, 10, 64)
	if err != nil || o < -1 {
		return usagef("delete-records: %s must be an offset >= 0 or -1 (set to %q)", flagName, value)
	}
	cl, err := t.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	low, err := cl.DeleteRecords(context.Background(), name, int32(p), o)
	if err != nil {
		return fmt.Errorf("delete-records %s partition %d: %w", name, p, err)
	}
	if t.output == "json" {
		return t.writeJSON(struct {
			Topic        string `json:"topic"`
			Partition    int32  `json:"partition"`
			LowWatermark int64  `json:"low_watermark"`
		}{name, int32(p), low})
	}
	w := t.table()
	fmt.Fprintln(w, "TOPIC\tPARTITION\tLOW-WATERMARK")
	fmt.Fprintf(w, "%s\t%d\t%d\n", name, p, low)
	return w.Flush()
}
