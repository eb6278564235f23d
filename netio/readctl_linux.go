package netio

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// readControl stops and resumes reading one connection's socket. gnet has no such call:
// it reads every readable connection into that connection's buffer, so a connection that
// netio pauses (Kafka mutes a channel) would still cost memory for every byte its client
// sends. Left unread, the bytes stay in the kernel's socket buffer and TCP flow control
// stops the client. So netio changes the connection's registration in its event loop's
// epoll instance itself, found once per event loop in /proc/self/fdinfo.
//
// gnet re-registers a connection for reading on its own when its outbound buffer fills or
// drains; the next read then calls OnTraffic, which stops reading again: a paused
// connection costs at most one read buffer (64 KiB) per such event, and
// Config.MaxPausedInboundBytes still closes one that somehow exceeds its bound.
//
// It is safe for concurrent use; set must be called on the connection's event loop.
type readControl struct {
	mu    sync.Mutex
	epfds map[gnet.EventLoop]int // each event loop's epoll descriptor, found on first use
}

func newReadControl() *readControl { return &readControl{epfds: make(map[gnet.EventLoop]int)} }

// set registers gc for reading (or not). Writing stays registered while gnet holds
// unwritten bytes, since gnet relies on the writable event to send them.
func (rc *readControl) set(gc gnet.Conn, reading bool) error {
	fd := gc.Fd()
	epfd, err := rc.epollOf(gc.EventLoop(), fd)
	if err != nil {
		return err
	}
	var ev uint32
	if reading {
		ev = unix.EPOLLIN | unix.EPOLLPRI // what gnet registers for reading
	}
	if gc.OutboundBuffered() > 0 {
		ev |= unix.EPOLLOUT
	}
	// gnet's registration carries the descriptor as its data, which the MOD must keep.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: ev, Fd: int32(fd)}); err != nil {
		return fmt.Errorf("cannot change epoll registration of fd %d: %w", fd, err)
	}
	return nil
}

// epollOf returns the epoll descriptor of loop, looking it up through fd, a connection it
// serves, the first time.
func (rc *readControl) epollOf(loop gnet.EventLoop, fd int) (int, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if epfd, ok := rc.epfds[loop]; ok {
		return epfd, nil
	}
	epfd, err := findEpoll(fd)
	if err != nil {
		return -1, err
	}
	rc.epfds[loop] = epfd
	return epfd, nil
}

// findEpoll returns the descriptor of the one epoll instance of this process that watches
// fd, read from /proc/self/fdinfo ("tfd: <fd> events: ..." lines).
func findEpoll(fd int) (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, fmt.Errorf("cannot list /proc/self/fd: %w", err)
	}
	found := -1
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || target != "anon_inode:[eventpoll]" {
			continue
		}
		watches, err := epollWatches(n, fd)
		if err != nil {
			return -1, err
		}
		if !watches {
			continue
		}
		if found >= 0 {
			return -1, fmt.Errorf("cannot tell which epoll instance serves fd %d: %d and %d both watch it", fd, found, n)
		}
		found = n
	}
	if found < 0 {
		return -1, fmt.Errorf("cannot find the epoll instance that watches fd %d", fd)
	}
	return found, nil
}

// epollWatches reports whether epoll descriptor epfd has fd registered.
func epollWatches(epfd, fd int) (bool, error) {
	f, err := os.Open("/proc/self/fdinfo/" + strconv.Itoa(epfd))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // closed meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("cannot read fdinfo of epoll fd %d: %w", epfd, err)
	}
	defer f.Close()
	want := strconv.Itoa(fd)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "tfd:")
		if !ok {
			continue
		}
		if fields := strings.Fields(rest); len(fields) > 0 && fields[0] == want {
			return true, nil
		}
	}
	return false, sc.Err()
}
