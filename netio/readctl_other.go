//go:build !linux

package netio

import (
	"errors"

	"github.com/panjf2000/gnet/v2"
)

// readControl cannot stop gnet reading a connection outside Linux; see readctl_linux.go.
// A paused connection is then bounded by Config.MaxPausedInboundBytes alone.
type readControl struct{}

func newReadControl() *readControl { return &readControl{} }

func (*readControl) set(gnet.Conn, bool) error {
	return errors.New("cannot stop reading a connection: only implemented on Linux")
}
