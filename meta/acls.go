package meta

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/acl"
)

// ACLs are stored one key per binding, the whole binding in the key:
// acls/<resource type>/<pattern type>/<operation>/<permission>/<name>/<principal>/<host>,
// the enums as Kafka's numbers and the strings path-escaped (a group name may hold "/").
// Creating a binding twice writes the same key, which is what Kafka does (a duplicate is
// no error), and a deletion removes exactly the keys it matched.

// ACLsPrefix returns acls/, the prefix of every ACL key.
func (k Keys) ACLsPrefix() string { return k.root + "acls/" }

// ACL returns the key of binding b.
func (k Keys) ACL(b acl.Binding) string {
	return fmt.Sprintf("%s%d/%d/%d/%d/%s/%s/%s", k.ACLsPrefix(), b.ResourceType, b.PatternType, b.Operation, b.Permission,
		url.PathEscape(b.Name), url.PathEscape(b.Principal), url.PathEscape(b.Host))
}

// ParseACL returns the binding an acls/ key holds.
func (k Keys) ParseACL(key string) (acl.Binding, error) {
	rest, ok := strings.CutPrefix(key, k.ACLsPrefix())
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 7 {
		return acl.Binding{}, fmt.Errorf("cannot parse ACL key %q", key)
	}
	var nums [4]int8
	for i := range nums {
		n, err := strconv.ParseInt(parts[i], 10, 8)
		if err != nil {
			return acl.Binding{}, fmt.Errorf("cannot parse ACL key %q: %w", key, err)
		}
		nums[i] = int8(n)
	}
	var strs [3]string
	for i := range strs {
		s, err := url.PathUnescape(parts[4+i])
		if err != nil {
			return acl.Binding{}, fmt.Errorf("cannot parse ACL key %q: %w", key, err)
		}
		strs[i] = s
	}
	return acl.Binding{ResourceType: kmsg.ACLResourceType(nums[0]), PatternType: kmsg.ACLResourcePatternType(nums[1]),
		Operation: kmsg.ACLOperation(nums[2]), Permission: kmsg.ACLPermissionType(nums[3]),
		Name: strs[0], Principal: strs[1], Host: strs[2]}, nil
}

// maxACLsPerTxn keeps a creation's transactions within etcd's default --max-txn-ops.
const maxACLsPerTxn = 128

// CreateACLs stores bs (a binding already stored is left as it is), in one transaction
// for up to maxACLsPerTxn bindings, so that a broker never sees part of a request's
// creations (a producer's WRITE without the READ created with it).
func (s *Store) CreateACLs(ctx context.Context, bs []acl.Binding) error {
	for len(bs) > 0 {
		n := min(len(bs), maxACLsPerTxn)
		ops := make([]clientv3.Op, n)
		for i, b := range bs[:n] {
			ops[i] = clientv3.OpPut(s.keys.ACL(b), "")
		}
		if _, err := s.kv.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("cannot store %d ACLs (the first %s): %w", n, bs[0], err)
		}
		bs = bs[n:]
	}
	return nil
}

// ListACLs returns every stored binding (a linearizable read) and the revision it saw.
func (s *Store) ListACLs(ctx context.Context) ([]acl.Binding, int64, error) {
	prefix := s.keys.ACLsPrefix()
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list ACLs under %s: %w", prefix, err)
	}
	out := make([]acl.Binding, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		b, err := s.keys.ParseACL(string(kv.Key))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, b)
	}
	return out, resp.Header.Revision, nil
}

// DeleteACLs deletes the stored bindings f matches and returns them. Each is deleted by
// its own key in one transaction, so a binding created meanwhile is never removed
// unseen; a binding another request deleted first is reported by neither twice (the
// transaction is retried on a conflict).
func (s *Store) DeleteACLs(ctx context.Context, f acl.Filter) ([]acl.Binding, error) {
	for {
		all, _, err := s.ListACLs(ctx)
		if err != nil {
			return nil, err
		}
		var matched []acl.Binding
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for _, b := range all {
			if f.Matches(b) {
				k := s.keys.ACL(b)
				matched = append(matched, b)
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), ">", 0))
				ops = append(ops, clientv3.OpDelete(k))
			}
		}
		if len(ops) == 0 {
			return nil, nil
		}
		resp, err := s.kv.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("cannot delete %d ACLs: %w", len(ops), err)
		}
		if resp.Succeeded {
			return matched, nil
		}
	}
}

// WatchACLs sends every stored binding, first at once and then again after each change
// any process makes, until ctx ends (the channel is then closed). A receiver replaces its
// whole set with each value: ACL sets are small, and a fresh linearizable list after each
// watch response never misses a change nor shows half of one request's creations for
// longer than the next response. It retries by itself (logging) while etcd is
// unreachable. The goroutine that feeds the channel is owned by the call and exits with
// ctx.
func (s *Store) WatchACLs(ctx context.Context) <-chan []acl.Binding {
	out := make(chan []acl.Binding)
	go func() {
		defer close(out)
		backoff := time.Duration(0)
		for ctx.Err() == nil {
			if backoff > 0 && !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			if s.watchACLsOnce(ctx, out) {
				backoff = 0 // the watch ran; resume quickly
			}
		}
	}()
	return out
}

// watchACLsOnce lists the ACLs and sends them, then again after each watch response,
// until the watch ends; it reports whether any change arrived.
func (s *Store) watchACLsOnce(ctx context.Context, out chan<- []acl.Binding) bool {
	all, rev, err := s.ListACLs(ctx)
	if err != nil {
		s.log.Warn("cannot list ACLs for the ACL watch; retrying", "err", err)
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
	for wr := range s.cli.Watch(wctx, s.keys.ACLsPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithKeysOnly()) {
		if err := wr.Err(); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("ACL watch failed; listing again", "err", err)
			}
			return got
		}
		if len(wr.Events) == 0 {
			continue // a progress notification
		}
		got = true
		if all, _, err = s.ListACLs(ctx); err != nil {
			s.log.Warn("cannot list ACLs after a change; watching again", "err", err)
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
