package meta

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
)

// NewClient connects to etcd at endpoints and checks, within dialTimeout, that
// the cluster answers a linearizable read (so it has a leader). On failure it
// closes the client and returns an error naming the endpoints: there is no
// fallback. The client's own logging goes to log at error level and above: its
// warnings repeat the errors the store returns anyway.
func NewClient(endpoints []string, dialTimeout time.Duration, log *slog.Logger) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("cannot connect to etcd: no endpoints")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: dialTimeout,
		Logger:      newZapLogger(log.With("component", "etcd-client"), zapcore.ErrorLevel, nil),
		// Keepalive pings detect a dead connection long before TCP does.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to etcd at %s: %w", strings.Join(endpoints, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	// Any key works; a count-only read of one absent key is the cheapest
	// request that still needs a leader and quorum.
	if _, err := cli.Get(ctx, "/kafscale-connectivity-check", clientv3.WithCountOnly()); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("cannot reach etcd at %s within %s: %w", strings.Join(endpoints, ","), dialTimeout, err)
	}
	return cli, nil
}
