// Package admin holds the operations behind `kafscale`'s admin verbs. It talks only the
// Kafka protocol (through franz-go's kadm), so every verb works against any
// Kafka-compatible cluster, KafScale or not. Rendering is the command's job: functions here
// return plain structs.
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config says how to reach the cluster.
type Config struct {
	// Brokers are the bootstrap addresses (host:port).
	Brokers []string
	// Timeout bounds each admin operation, all its requests together.
	Timeout time.Duration
	// ClientID is sent with every request (it shows in the broker's logs).
	ClientID string
	// Security connects to SSL and SASL listeners (--command-config).
	Security Security
}

// DefaultConfig returns the settings `kafscale groups` uses when given no flags.
func DefaultConfig() Config {
	return Config{
		Brokers:  []string{"127.0.0.1:9092"},
		Timeout:  30 * time.Second,
		ClientID: "kafscale-admin",
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("--bootstrap-server must name at least one host:port")
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout must be > 0 (set to %s)", c.Timeout)
	}
	return nil
}

// Client runs admin operations against one cluster. It is safe for concurrent use.
type Client struct {
	kgo     *kgo.Client
	adm     *kadm.Client
	timeout time.Duration
}

// New connects lazily: the first operation dials the bootstrap brokers.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sec, err := cfg.Security.opts()
	if err != nil {
		return nil, fmt.Errorf("--command-config: %w", err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		// An admin command should fail fast on an unreachable cluster, not retry for minutes.
		kgo.RequestRetries(3),
		kgo.RetryTimeout(cfg.Timeout),
		kgo.DialTimeout(5 * time.Second),
	}, sec...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot create a client for %v: %w", cfg.Brokers, err)
	}
	return &Client{kgo: cl, adm: kadm.NewClient(cl), timeout: cfg.Timeout}, nil
}

// Close releases the client's connections.
func (c *Client) Close() { c.kgo.Close() }

// withTimeout bounds one operation by the configured timeout.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}
