package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// measureConnections opens cfg.Connections idle client connections, each after an
// ApiVersions exchange as every client starts, and with them open times new clients' first
// Metadata answer and Metadata for every topic.
func measureConnections(ctx context.Context, cfg ScaleConfig, b *scaleBroker, res *ScaleResult, cl *kgo.Client, logf func(string, ...any)) error {
	var err error
	if res.RSSBeforeConns, err = settledRSS(ctx, b.pid()); err != nil {
		return err
	}
	start := time.Now()
	conns, err := openConns(ctx, b.addr, cfg.Connections)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if err != nil {
		return err
	}
	res.Conns = len(conns)
	res.ConnsOpenTime = time.Since(start)
	if res.RSSWithConns, err = settledRSS(ctx, b.pid()); err != nil {
		return err
	}
	var h Histogram
	for range 20 {
		d, err := newClientFirstAnswer(ctx, b.addr)
		if err != nil {
			return err
		}
		h.Record(d)
	}
	res.NewClient = h.Summarize()
	if res.MetadataWithConnsOpen, _, err = timeMetadata(ctx, cl, cfg.MetadataRounds); err != nil {
		return err
	}
	// The connections must still be open: a broker that dropped them would look cheap.
	if err := apiVersions(conns[len(conns)-1], 1<<30); err != nil {
		return fmt.Errorf("the last idle connection no longer answers: %w", err)
	}
	logf("%d connections open in %s: RSS %s -> %s; new client's first Metadata %s",
		len(conns), res.ConnsOpenTime.Round(time.Millisecond), mib(res.RSSBeforeConns), mib(res.RSSWithConns), pcts(res.NewClient))
	return nil
}

// openConns dials n connections, 64 at a time, each completing one ApiVersions exchange.
func openConns(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				errs <- fmt.Errorf("cannot open connection %d: %w", i, err)
				return
			}
			conns[i] = c
			if err := apiVersions(c, int32(i)); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var open []net.Conn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, <-errs
}

// apiVersions sends ApiVersions v3 on c and reads the answer's frame.
func apiVersions(c net.Conn, corr int32) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "kscale", "1"
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("kscale")).AppendRequest(nil, req, corr)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("cannot send ApiVersions: %w", err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return fmt.Errorf("cannot read ApiVersions answer: %w", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return fmt.Errorf("cannot read ApiVersions answer: %w", err)
	}
	if len(body) < 6 || int32(binary.BigEndian.Uint32(body)) != corr {
		return fmt.Errorf("ApiVersions answer of %d bytes does not carry correlation id %d", len(body), corr)
	}
	if code := int16(binary.BigEndian.Uint16(body[4:])); code != 0 {
		return fmt.Errorf("ApiVersions answered error code %d", code)
	}
	return nil
}

// newClientFirstAnswer times a new franz-go client from creation to its first Metadata
// answer (it dials and exchanges ApiVersions first).
func newClientFirstAnswer(ctx context.Context, addr string) (time.Duration, error) {
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // no topic: brokers only
	if _, err := req.RequestWith(ctx, cl); err != nil {
		return 0, fmt.Errorf("new client's metadata: %w", err)
	}
	return time.Since(start), nil
}
