package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/kafscale/kafscale/admin"
)

const clusterUsage = `usage: kafscale cluster <verb> [flags]

verbs (they speak the Kafka protocol, so they work against any Kafka-compatible cluster):
  describe       live brokers, the controller, and the partitions each broker leads

Run 'kafscale cluster <verb> -h' for a verb's flags.
`

// runCluster dispatches "kafscale cluster <verb>".
func runCluster(args []string) error { return runClusterTo(os.Stdout, args) }

func runClusterTo(stdout io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, clusterUsage)
		return nil
	}
	g := &groupsCmd{cfg: admin.DefaultConfig(), stdout: stdout}
	switch args[0] {
	case "describe":
		fs := g.flags("describe")
		fs.Init("kafscale cluster describe", fs.ErrorHandling())
		pos, help, err := g.parse(fs, args[1:])
		if help || err != nil {
			return err
		}
		if len(pos) > 0 {
			return fmt.Errorf("unexpected argument %q", pos[0])
		}
		cl, err := admin.New(g.cfg)
		if err != nil {
			return err
		}
		defer cl.Close()
		d, err := cl.DescribeCluster(context.Background())
		if err != nil {
			return err
		}
		if g.output == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		}
		fmt.Fprintf(stdout, "cluster %s: %d brokers, controller %d, %d topics, %d partitions (%d without a leader)\n\n",
			d.ClusterID, len(d.Brokers), d.Controller, d.Topics, d.Partitions, d.Leaderless)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BROKER\tHOST:PORT\tRACK\tCONTROLLER\tPARTITIONS")
		for _, b := range d.Brokers {
			ctl := ""
			if b.Controller {
				ctl = "yes"
			}
			fmt.Fprintf(tw, "%d\t%s:%d\t%s\t%s\t%d\n", b.ID, b.Host, b.Port, b.Rack, ctl, b.Partitions)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("unknown verb %q\n\n%s", args[0], clusterUsage)
	}
}
