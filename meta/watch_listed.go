package meta

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchListed sends list's result, first at once and then again after each watch response
// on prefix, until ctx ends (the channel is then closed): one etcd watch, and a fresh
// linearizable list after each of its responses, so a receiver never misses a change. It
// retries by itself (logging, with what naming the set) while etcd is unreachable. The
// goroutine that feeds the channel is owned by the call and exits with ctx.
func watchListed[T any](ctx context.Context, s *Store, what, prefix string, list func(context.Context) (T, int64, error)) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		backoff := time.Duration(0)
		for ctx.Err() == nil {
			if backoff > 0 && !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			if watchListedOnce(ctx, s, what, prefix, list, out) {
				backoff = 0 // the watch ran; resume quickly
			}
		}
	}()
	return out
}

// watchListedOnce lists and sends, then again after each watch response, until the watch
// ends; it reports whether any change arrived.
func watchListedOnce[T any](ctx context.Context, s *Store, what, prefix string, list func(context.Context) (T, int64, error), out chan<- T) bool {
	all, rev, err := list(ctx)
	if err != nil {
		s.log.Warn("cannot list "+what+" for their watch; retrying", "err", err)
		return false
	}
	select {
	case out <- all:
	case <-ctx.Done():
		return false
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	got := false
	for wr := range s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithKeysOnly()) {
		if err := wr.Err(); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("watch of "+what+" failed; listing again", "err", err)
			}
			return got
		}
		if len(wr.Events) == 0 {
			continue // a progress notification
		}
		got = true
		if all, _, err = list(ctx); err != nil {
			s.log.Warn("cannot list "+what+" after a change; watching again", "err", err)
			return got
		}
		select {
		case out <- all:
		case <-ctx.Done():
			return got
		}
	}
	return got
}
