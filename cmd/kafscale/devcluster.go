package main

// `kafscale dev --brokers N`: a cluster of N brokers on one machine. Broker 0 runs in this
// process with the embedded etcd; brokers 1..N-1 are child processes (`kafscale dev
// --etcd-endpoints <the embedded etcd> --broker-id i ...`) sharing the etcd and the local
// object store under --data-dir, so each is a process of its own that can be killed to
// watch a failover, as in a real cluster (docs/cluster.md).

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxDevBrokers bounds --brokers: one machine, consecutive ports.
const maxDevBrokers = 9

// devClusterMetricsOffset is how far above --listen's port broker 0's metrics port is
// when --metrics-listen keeps its default (whose port, 9093, is broker 1's Kafka port).
const devClusterMetricsOffset = 100

// clusterPorts derives broker 0's metrics address for a cluster: the default
// --metrics-listen port is the next broker's Kafka port.
func (c *devConfig) clusterPorts() error {
	lhost, lport, err := splitHostPort("listen", c.Listen)
	if err != nil {
		return err
	}
	if int(lport)+c.Brokers-1 > 65535 || (lport != 0 && int(lport)+devClusterMetricsOffset+c.Brokers-1 > 65535) {
		return fmt.Errorf("--listen port %d leaves no room for %d brokers", lport, c.Brokers)
	}
	if c.MetricsListen == defaultServerConfig().MetricsListen {
		port := lport
		if port != 0 {
			port += devClusterMetricsOffset
		}
		c.MetricsListen = joinHostPort(lhost, port)
	}
	return nil
}

// shiftPort returns addr with its port moved up by i (port 0 stays 0: a free one).
func shiftPort(flagName, addr string, i int) (string, error) {
	host, port, err := splitHostPort(flagName, addr)
	if err != nil {
		return "", err
	}
	if port != 0 {
		port += int32(i)
	}
	return joinHostPort(host, port), nil
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// devChildOwn are the flags each child gets its own value of.
var devChildOwn = map[string]bool{
	"brokers": true, "listen": true, "advertised-listener": true, "metrics-listen": true,
	"broker-id": true, "node-id": true, "etcd-listen": true, "etcd-endpoints": true,
}

// devChildArgs returns the flags of args (parsed by fs) that the child brokers share, in
// their order, without those each child gets its own value of.
func devChildArgs(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		takesNext := !hasValue && f != nil && !isBoolFlag(f)
		if !devChildOwn[name] {
			out = append(out, a)
			if takesNext && i+1 < len(args) {
				out = append(out, args[i+1])
			}
		}
		if takesNext {
			i++
		}
	}
	return out
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// devBrokers are the child processes of a dev cluster.
type devBrokers struct {
	log   *slog.Logger
	mu    sync.Mutex
	procs []*exec.Cmd // procs[i] is broker i+1
	done  []chan struct{}
	// failed receives the first child that exited with an error of its own (status 1: it
	// could not start or serve), so that the cluster stops rather than run with fewer
	// brokers than asked. A child killed by a signal (a user trying failover with kill -9)
	// is only logged.
	failed chan error
}

// startDevBrokers starts brokers 1..cfg.Brokers-1 as child processes joining etcd at
// endpoints.
func startDevBrokers(cfg devConfig, endpoints []string, log *slog.Logger) (*devBrokers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find this program to start the other brokers: %w", err)
	}
	d := &devBrokers{log: log, failed: make(chan error, 1)}
	addrs := []string{cfg.AdvertisedListener}
	for i := 1; i < cfg.Brokers; i++ {
		listen, err := shiftPort("listen", cfg.Listen, i)
		if err != nil {
			return nil, err
		}
		metricsAddr, err := shiftPort("metrics-listen", cfg.MetricsListen, i)
		if err != nil {
			return nil, err
		}
		args := []string{"dev", "--brokers=1", "--broker-id=" + strconv.Itoa(int(cfg.Broker.NodeID)+i),
			"--etcd-endpoints=" + strings.Join(endpoints, ","), "--data-dir=" + cfg.DataDir,
			"--listen=" + listen, "--metrics-listen=" + metricsAddr}
		if cfg.AdvertisedListener != cfg.Listen {
			adv, err := shiftPort("advertised-listener", cfg.AdvertisedListener, i)
			if err != nil {
				return nil, err
			}
			args = append(args, "--advertised-listener="+adv)
			addrs = append(addrs, adv)
		} else {
			addrs = append(addrs, listen)
		}
		args = append(args, cfg.childArgs...)
		cmd := exec.Command(exe, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		// Its own process group: a terminal's Ctrl-C reaches this process alone, which
		// stops the others in order. Pdeathsig: when this process dies (and with it the
		// etcd they need) they are killed too; what they acknowledged is committed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			d.stop()
			return nil, fmt.Errorf("cannot start broker %d: %w", i, err)
		}
		done := make(chan struct{})
		id := int(cfg.Broker.NodeID) + i
		go func() {
			err := cmd.Wait()
			close(done)
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 1 {
				select {
				case d.failed <- fmt.Errorf("broker %d (pid %d) failed; its log is above", id, cmd.Process.Pid):
				default:
				}
			}
			if err != nil {
				log.Warn("dev broker process exited", "broker", id, "pid", cmd.Process.Pid, "err", err)
			} else {
				log.Info("dev broker process exited", "broker", id, "pid", cmd.Process.Pid)
			}
		}()
		d.procs = append(d.procs, cmd)
		d.done = append(d.done, done)
		log.Info("dev broker process started", "broker", id, "pid", cmd.Process.Pid, "listen", listen, "metrics", metricsAddr)
	}
	log.Info("dev cluster", "brokers", cfg.Brokers, "bootstrap", strings.Join(addrs, ","))
	return d, nil
}

// devStopTimeout bounds each child's drain and shutdown before it is killed.
const devStopTimeout = 60 * time.Second

// stop stops the child brokers one at a time, highest id first, each with SIGTERM (it
// drains to the brokers still serving), killing one that does not exit in time.
func (d *devBrokers) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.procs) - 1; i >= 0; i-- {
		select {
		case <-d.done[i]:
			continue
		default:
		}
		_ = d.procs[i].Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done[i]:
		case <-time.After(devStopTimeout):
			d.log.Error("dev broker did not stop in time; killing it", "pid", d.procs[i].Process.Pid)
			_ = d.procs[i].Process.Kill()
			<-d.done[i]
		}
	}
	d.procs, d.done = nil, nil
}
