package meta

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/quota"
)

// Client quotas are stored one key per entity and quota key:
// quotas/<user>/<client id>/<quota key> = the value as decimal text, each part "-" when
// the entity has no such component, "@default" for <default>, and "=" and the
// path-escaped name otherwise (names may hold "/", and "" is a valid client id).

// QuotasPrefix returns quotas/, the prefix of every quota key.
func (k Keys) QuotasPrefix() string { return k.root + "quotas/" }

// Quota returns the key of quota key of entity e.
func (k Keys) Quota(e quota.Entity, key string) string {
	return k.QuotasPrefix() + quotaPart(e.User) + "/" + quotaPart(e.ClientID) + "/" + url.PathEscape(key)
}

func quotaPart(p quota.Part) string {
	switch {
	case !p.Present:
		return "-"
	case p.Default:
		return "@default"
	}
	return "=" + url.PathEscape(p.Name)
}

func parseQuotaPart(s string) (quota.Part, error) {
	switch {
	case s == "-":
		return quota.Part{}, nil
	case s == "@default":
		return quota.Default, nil
	case strings.HasPrefix(s, "="):
		n, err := url.PathUnescape(s[1:])
		return quota.Named(n), err
	}
	return quota.Part{}, fmt.Errorf("bad entity part %q", s)
}

// parseQuota returns the entity and quota key a quotas/ key names.
func (k Keys) parseQuota(key string) (quota.Entity, string, error) {
	rest, ok := strings.CutPrefix(key, k.QuotasPrefix())
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return quota.Entity{}, "", fmt.Errorf("cannot parse quota key %q", key)
	}
	u, err := parseQuotaPart(parts[0])
	if err != nil {
		return quota.Entity{}, "", fmt.Errorf("cannot parse quota key %q: %w", key, err)
	}
	c, err := parseQuotaPart(parts[1])
	if err != nil {
		return quota.Entity{}, "", fmt.Errorf("cannot parse quota key %q: %w", key, err)
	}
	name, err := url.PathUnescape(parts[2])
	if err != nil {
		return quota.Entity{}, "", fmt.Errorf("cannot parse quota key %q: %w", key, err)
	}
	return quota.Entity{User: u, ClientID: c}, name, nil
}

// QuotaOp sets (Remove false) or removes one quota key of an entity.
type QuotaOp struct {
	Key    string
	Value  float64
	Remove bool
}

// AlterQuotas applies ops to entity e in one transaction (removing a key that is not set
// is no error, as in Kafka).
func (s *Store) AlterQuotas(ctx context.Context, e quota.Entity, ops []QuotaOp) error {
	txn := make([]clientv3.Op, 0, len(ops))
	for _, op := range ops {
		k := s.keys.Quota(e, op.Key)
		if op.Remove {
			txn = append(txn, clientv3.OpDelete(k))
		} else {
			txn = append(txn, clientv3.OpPut(k, strconv.FormatFloat(op.Value, 'f', -1, 64)))
		}
	}
	if _, err := s.kv.Txn(ctx).Then(txn...).Commit(); err != nil {
		return fmt.Errorf("cannot alter the quotas of %s: %w", e, err)
	}
	return nil
}

// ListQuotas returns every stored quota (a linearizable read) and the revision it saw.
func (s *Store) ListQuotas(ctx context.Context) (quota.Set, int64, error) {
	prefix := s.keys.QuotasPrefix()
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list quotas under %s: %w", prefix, err)
	}
	out := make(quota.Set, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		e, key, err := s.keys.parseQuota(string(kv.Key))
		if err != nil {
			return nil, 0, err
		}
		v, err := strconv.ParseFloat(string(kv.Value), 64)
		if err != nil {
			return nil, 0, fmt.Errorf("cannot parse quota %s: %w", kv.Key, err)
		}
		if out[e] == nil {
			out[e] = make(map[string]float64)
		}
		out[e][key] = v
	}
	return out, resp.Header.Revision, nil
}

// WatchQuotas sends every stored quota, first at once and then again after each change
// any process makes, until ctx ends (the channel is then closed), as WatchACLs: one etcd
// watch, and a fresh linearizable list after each of its responses. It retries by itself
// (logging) while etcd is unreachable.
func (s *Store) WatchQuotas(ctx context.Context) <-chan quota.Set {
	out := make(chan quota.Set)
	go func() {
		defer close(out)
		backoff := time.Duration(0)
		for ctx.Err() == nil {
			if backoff > 0 && !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			if s.watchQuotasOnce(ctx, out) {
				backoff = 0 // the watch ran; resume quickly
			}
		}
	}()
	return out
}

// watchQuotasOnce lists the quotas and sends them, then again after each watch response,
// until the watch ends; it reports whether any change arrived.
func (s *Store) watchQuotasOnce(ctx context.Context, out chan<- quota.Set) bool {
	all, rev, err := s.ListQuotas(ctx)
	if err != nil {
		s.log.Warn("cannot list quotas for the quota watch; retrying", "err", err)
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
	for wr := range s.cli.Watch(wctx, s.keys.QuotasPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithKeysOnly()) {
		if err := wr.Err(); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("quota watch failed; listing again", "err", err)
			}
			return got
		}
		if len(wr.Events) == 0 {
			continue // a progress notification
		}
		got = true
		if all, _, err = s.ListQuotas(ctx); err != nil {
			s.log.Warn("cannot list quotas after a change; watching again", "err", err)
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
