package netio

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// Connection errors (a connection closed on a bad request, a broken limit or an I/O
// error) are logged one line each, at most connErrorBurst per connErrorWindow per Server
// (Server.connErrors), since a misbehaving client can cause them as fast as it
// reconnects. The first line after a full window says how many were left out
// (docs/operations.md, "Logs").
const (
	connErrorBurst  = 20
	connErrorWindow = 10 * time.Second
)

// logConnError logs one connection error, rate limited.
func (c *Conn) logConnError(msg string, args ...any) {
	c.srv.connErrors.Log(c.srv.log, slog.LevelInfo, msg, append([]any{"conn", c.id, "remote", c.remote}, args...)...)
}

// warnConnError is logConnError at warning level, for a client breaking a limit.
func (c *Conn) warnConnError(msg string, args ...any) {
	c.srv.connErrors.Log(c.srv.log, slog.LevelWarn, msg, append([]any{"conn", c.id, "remote", c.remote}, args...)...)
}

// ioError reports whether err, as gnet's OnClose gives it, is a connection error: not the
// peer closing (EOF) nor the server closing the connection itself (nil).
func ioError(err error) bool {
	return err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed)
}
