package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/control/controlpb"
)

const brokerVerbsUsage = `usage: kafscale broker [flags]            run a broker (see -h)
       kafscale broker <verb> [flags]     ask a running broker, over BrokerControl (gRPC on
                                          its --metrics-listen port):
  drain     move a broker's partitions and group coordinators to the other brokers and
            wait until it leads nothing (--broker-id; any broker of the cluster can be asked)
  undrain   let a drained broker receive partitions again (--broker-id)
  status    the asked broker's id, readiness, draining mark, partitions and pending bytes

Run 'kafscale broker <verb> -h' for a verb's flags.
`

// brokerVerbs are the verbs of `kafscale broker` that talk to a running broker.
var brokerVerbs = map[string]bool{"drain": true, "undrain": true, "status": true}

// controlCmd holds the flags of the broker verbs.
type controlCmd struct {
	admin    string
	brokerID int32
	timeout  time.Duration
	output   string
	stdout   io.Writer
}

func runBrokerVerb(stdout io.Writer, args []string) error {
	verb := args[0]
	c := &controlCmd{admin: "127.0.0.1:9093", brokerID: -1, timeout: 2 * time.Minute, output: "table", stdout: stdout}
	fs := flag.NewFlagSet("kafscale broker "+verb, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&c.admin, "admin", c.admin, "host:port of a broker's admin port (its --metrics-listen), where BrokerControl is served")
	if verb != "status" {
		fs.Func("broker-id", "the broker to "+verb+": an id, or a StatefulSet pod name such as kafscale-2 (KAFSCALE_BROKER_ID; required)", brokerIDFlag(&c.brokerID))
	}
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "bound on the whole operation (a drain that takes longer fails; its moves go on)")
	fs.StringVar(&c.output, "output", c.output, "table or json")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if _, _, err := splitHostPort("admin", c.admin); err != nil {
		return err
	}
	if verb != "status" && c.brokerID < 0 {
		return fmt.Errorf("--broker-id is required")
	}
	if c.timeout <= 0 {
		return fmt.Errorf("--timeout must be >0 (set to %s)", c.timeout)
	}
	if c.output != "table" && c.output != "json" {
		return fmt.Errorf("--output must be table or json (set to %q)", c.output)
	}
	conn, err := grpc.NewClient(c.admin, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("cannot connect to --admin %s: %w", c.admin, err)
	}
	defer conn.Close()
	cl := controlpb.NewBrokerControlClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	switch verb {
	case "drain":
		resp, err := cl.Drain(ctx, &controlpb.DrainRequest{BrokerId: c.brokerID})
		if err != nil {
			return fmt.Errorf("drain of broker %d via %s: %w", c.brokerID, c.admin, err)
		}
		return c.print(resp, func() {
			fmt.Fprintf(c.stdout, "broker %d drained: %d partitions and %d group coordinator slots moved in %s\n",
				resp.BrokerId, resp.PartitionsMoved, resp.CoordinatorSlotsMoved, time.Duration(resp.TookMs)*time.Millisecond)
		})
	case "undrain":
		resp, err := cl.Undrain(ctx, &controlpb.UndrainRequest{BrokerId: c.brokerID})
		if err != nil {
			return fmt.Errorf("undrain of broker %d via %s: %w", c.brokerID, c.admin, err)
		}
		return c.print(resp, func() {
			fmt.Fprintf(c.stdout, "broker %d undrained: it receives partitions again\n", c.brokerID)
		})
	default:
		resp, err := cl.Status(ctx, &controlpb.StatusRequest{})
		if err != nil {
			return fmt.Errorf("status via %s: %w", c.admin, err)
		}
		return c.print(resp, func() {
			ready := "yes"
			if !resp.Ready {
				ready = "no: " + resp.NotReadyReason
			}
			live := make([]string, len(resp.LiveBrokers))
			for i, id := range resp.LiveBrokers {
				live[i] = fmt.Sprint(id)
			}
			fmt.Fprintf(c.stdout, "broker:            %d\ncluster:           %s\nready:             %s\ndraining:          %v\npartitions led:    %d\ncoordinator slots: %d\npending bytes:     %d\ncontroller:        %d\nlive brokers:      %s\n",
				resp.BrokerId, resp.ClusterId, ready, resp.Draining, resp.PartitionsLed, resp.CoordinatorSlots, resp.PendingBytes, resp.ControllerId, strings.Join(live, ","))
		})
	}
}

// print writes m as JSON (every field, zero or not) with --output json, else runs table.
func (c *controlCmd) print(m proto.Message, table func()) error {
	if c.output == "json" {
		b, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true, UseProtoNames: true}.Marshal(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	table()
	return nil
}

// runBrokerCmd dispatches `kafscale broker`: a verb, or the broker itself.
func runBrokerCmd(args []string) error {
	if len(args) > 0 && brokerVerbs[args[0]] {
		return runBrokerVerb(os.Stdout, args)
	}
	if len(args) > 0 && (args[0] == "help") {
		fmt.Fprint(os.Stdout, brokerVerbsUsage)
		return nil
	}
	return runBrokerServer(args)
}
