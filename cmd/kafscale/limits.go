package main

import (
	"flag"
	"fmt"
	"log/slog"
	"syscall"

	"github.com/kafscale/kafscale/netio"
)

// limitFlags binds the flags of the resource limits against clients (docs/operations.md,
// "Limits") to cfg.
func limitFlags(fs *flag.FlagSet, cfg *netio.Config) {
	fs.Int64Var(&cfg.QueuedMaxRequestBytes, "queued-max-request-bytes", cfg.QueuedMaxRequestBytes, "bytes of requests being received, queued or served, broker-wide; a connection whose next request does not fit is not read until enough is released (queued.max.request.bytes; at least --max-request-bytes)")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "connections accepted beyond this are closed at once (max.connections); the open-files limit must exceed it by "+fmt.Sprint(openFilesReserve))
	fs.IntVar(&cfg.MaxConnectionsPerIP, "max-connections-per-ip", cfg.MaxConnectionsPerIP, "connections from one client address beyond this are closed at once (max.connections.per.ip)")
	fs.DurationVar(&cfg.RequestReadTimeout, "request-read-timeout", cfg.RequestReadTimeout, "close a connection whose request has begun to arrive but not arrived whole within this (time paused by the broker does not count)")
	fs.DurationVar(&cfg.ConnectionsMaxIdle, "connections-max-idle", cfg.ConnectionsMaxIdle, "close a connection that sent nothing, had nothing written and awaited no answer for this long (connections.max.idle.ms)")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight-requests-per-connection", cfg.MaxInFlight, "requests of one connection read but not yet answered on the socket before the broker stops reading it, as Kafka mutes a channel until its response is sent")
}

// validateLimits refuses limit values that make no sense, naming the flag.
func validateLimits(c *netio.Config) error {
	switch {
	case c.QueuedMaxRequestBytes < int64(c.MaxRequestBytes):
		return fmt.Errorf("--queued-max-request-bytes must be at least --max-request-bytes (%d), or no request of that size could ever be read (set to %d)", c.MaxRequestBytes, c.QueuedMaxRequestBytes)
	case c.MaxConnections <= 0:
		return fmt.Errorf("--max-connections must be >0 (set to %d)", c.MaxConnections)
	case c.MaxConnectionsPerIP <= 0:
		return fmt.Errorf("--max-connections-per-ip must be >0 (set to %d)", c.MaxConnectionsPerIP)
	case c.RequestReadTimeout <= 0:
		return fmt.Errorf("--request-read-timeout must be >0 (set to %s)", c.RequestReadTimeout)
	case c.ConnectionsMaxIdle <= 0:
		return fmt.Errorf("--connections-max-idle must be >0 (set to %s)", c.ConnectionsMaxIdle)
	case c.MaxInFlight <= 0:
		return fmt.Errorf("--max-in-flight-requests-per-connection must be >0 (set to %d)", c.MaxInFlight)
	}
	return nil
}

// openFilesReserve is the descriptors kept beside --max-connections for everything else a
// broker opens (etcd and S3 connections, embedded etcd's files, connections accepted in
// one burst before netio closes those over the limit). gnet stops accepting for good
// when accept fails with EMFILE, so the open-files limit must never be reached.
const openFilesReserve = 1024

// raiseOpenFiles raises the open-files soft limit to the hard limit, as servers do (the
// Go runtime does too since Go 1.19; doing it here states it and reads the result), and
// refuses to start when the result cannot hold maxConns connections.
func raiseOpenFiles(maxConns int, log *slog.Logger) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("cannot read the open-files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return fmt.Errorf("cannot raise the open-files limit from %d to %d: %w", lim.Cur, lim.Max, err)
		}
		lim = raised
	}
	need := uint64(maxConns) + openFilesReserve
	if lim.Cur < need {
		return fmt.Errorf("--max-connections %d needs an open-files limit of at least %d, but the hard limit is %d: raise it (ulimit -Hn, LimitNOFILE=) or lower --max-connections",
			maxConns, need, lim.Cur)
	}
	log.Info("open-files limit", "limit", lim.Cur, "max_connections", maxConns)
	return nil
}
