package netio

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/kafscale/kafscale/ratelog"
)

// connErrors bounds the lines logged for connection errors (a connection closed on a bad
// request or an I/O error): one line each, at most connErrorBurst per connErrorWindow in
// a process, since a misbehaving client can cause them as fast as it reconnects. The
// first line after a full window says how many were left out (docs/operations.md, "Logs").
var connErrors = ratelog.New("connection_errors", connErrorBurst, connErrorWindow)

const (
	connErrorBurst  = 20
	connErrorWindow = 10 * time.Second
)

// logConnError logs one connection error, rate limited.
func (c *Conn) logConnError(msg string, args ...any) {
	connErrors.Log(c.srv.log, slog.LevelInfo, msg, append([]any{"conn", c.id, "remote", c.remote}, args...)...)
}

// ioError reports whether err, as gnet's OnClose gives it, is a connection error: not the
// peer closing (EOF) nor the server closing the connection itself (nil).
func ioError(err error) bool {
	return err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed)
}
