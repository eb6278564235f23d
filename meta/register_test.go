package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/tcpfault"
)

func TestRegisterTwiceFencesFirstIncarnation(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	first := register(t, s, 1)
	if first.Incarnation != uint64(first.FenceRev) {
		t.Fatalf("incarnation %d != fence revision %d", first.Incarnation, first.FenceRev)
	}
	if _, err := s.CommitObject(ctx, first, first.FenceRev, 0, entry("a")); err != nil {
		t.Fatal(err)
	}
	second := register(t, s, 1)
	if second.Incarnation <= first.Incarnation {
		t.Fatalf("incarnation %d not above %d", second.Incarnation, first.Incarnation)
	}
	if _, err := s.CommitObject(ctx, first, first.FenceRev, 1, entry("b")); !errors.Is(err, ErrFenced) {
		t.Fatalf("first incarnation's commit: got %v, want ErrFenced", err)
	}
	if _, err := s.CommitObject(ctx, second, second.FenceRev, 0, entry("c")); err != nil {
		t.Fatalf("second incarnation's commit: %v", err)
	}
	brokers, err := s.ListBrokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 1 || brokers[0].Id != 1 || brokers[0].Incarnation != second.Incarnation || brokers[0].Port != 9092 {
		t.Fatalf("brokers = %v, want broker 1 at incarnation %d", brokers, second.Incarnation)
	}
}

func TestLeaseRevokedElsewhereClosesLost(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	other, err := NewClient(testEndpoints, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if _, err := other.Revoke(ctx, reg.LeaseID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reg.Lost:
	case <-ctx.Done():
		t.Fatal("Lost not closed after the lease was revoked")
	}
	if brokers, err := s.ListBrokers(ctx); err != nil || len(brokers) != 0 {
		t.Fatalf("brokers after lease loss = %v, %v; want none", brokers, err)
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatalf("Close after the lease was lost: %v", err)
	}
}

func TestRegistrationCloseRevokesSessionButKeepsFence(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	<-reg.Lost
	if brokers, err := s.ListBrokers(ctx); err != nil || len(brokers) != 0 {
		t.Fatalf("brokers after Close = %v, %v; want none", brokers, err)
	}
	// The fence is the commit guard, not the session: an in-flight commit of
	// a closing broker may still land.
	if _, err := s.CommitObject(ctx, reg, reg.FenceRev, 0, entry("a")); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterFailsOnUnreachableEtcd(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Register(ctx, 1, "h", 1, "", 0); err == nil {
		t.Fatal("Register with a cancelled context succeeded")
	}
}

// TestReplacedIncarnationLosesItsSession guards against a replaced process serving on
// (issue 18, scenario 2): its own lease lives on when another process registers the same
// broker id, so keepalives alone never end its session; the registration watch must.
func TestReplacedIncarnationLosesItsSession(t *testing.T) {
	s := newTestStore(t)
	first := register(t, s, 1)
	_ = register(t, s, 1)
	select {
	case <-first.Lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced incarnation's session was not lost within 10s")
	}
	if !first.Replaced() {
		t.Fatal("Replaced() = false after another process registered the same broker id")
	}
}

// TestRejoinNeverFencesAReplacement: a process whose session was lost registers again
// only if nobody else holds its broker id; otherwise the two would fence each other in turn.
func TestRejoinNeverFencesAReplacement(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	old := register(t, s, 1)
	// etcd may still hold the key under the lease of the session the client gave up on.
	again, err := s.Register(ctx, 1, "h", 1, "", old.LeaseID)
	if err != nil {
		t.Fatalf("rejoin over our own previous registration: %v", err)
	}
	_ = again.Close(ctx)
	repl := register(t, s, 1)
	if _, err := s.Register(ctx, 1, "h", 1, "", old.LeaseID); !errors.Is(err, ErrReplaced) {
		t.Fatalf("rejoin while another registration holds the id: %v, want ErrReplaced", err)
	}
	if _, err := s.CommitObject(ctx, repl, repl.FenceRev, 0, entry("a")); err != nil {
		t.Fatalf("the replacement was fenced by a refused rejoin: %v", err)
	}
	if err := repl.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again, err = s.Register(ctx, 1, "h", 1, "", old.LeaseID)
	if err != nil {
		t.Fatalf("rejoin of a free id: %v", err)
	}
	_ = again.Close(ctx)
}

// TestValidLapsesBeforeTheLeaseCanExpire: a registration whose keepalives go unanswered
// (etcd cut off behind a proxy dropping both ways) stops being Valid before etcd could
// have expired its lease (TTL after the last renewal it learnt of), and before Lost closes.
// While keepalives are answered it stays Valid.
func TestValidLapsesBeforeTheLeaseCanExpire(t *testing.T) {
	proxy := tcpfault.Start(t, strings.TrimPrefix(testEndpoints[0], "http://"))
	cli, err := NewClient([]string{"http://" + proxy.Addr}, 5*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cfg := DefaultConfig()
	cfg.Prefix = fmt.Sprintf("/test/%d/%s", testSeq.Add(1), t.Name())
	cfg.SessionTTL = 2 * time.Second
	s := New(cli, cfg, slog.New(slog.DiscardHandler))
	reg := register(t, s, 1)
	// Three TTLs with keepalives answered: always valid.
	for end := time.Now().Add(3 * cfg.SessionTTL); time.Now().Before(end); {
		if !reg.Valid() {
			t.Fatal("the registration is not Valid while its keepalives are answered")
		}
		select {
		case <-reg.Lost:
			t.Fatal("the session was lost while its keepalives are answered")
		case <-time.After(20 * time.Millisecond):
		}
	}
	cutAt := time.Now()
	proxy.Cut()
	for deadline := time.Now().Add(5 * time.Second); reg.Valid(); {
		if time.Now().After(deadline) {
			t.Fatal("the registration is still Valid 5 s after etcd was cut off")
		}
		time.Sleep(5 * time.Millisecond) // polling a clock-based predicate; the deadline bounds it
	}
	lapsed := time.Since(cutAt)
	select {
	case <-reg.Lost:
		t.Errorf("Lost closed before Valid lapsed (%s after the cut)", lapsed)
	default:
	}
	if lapsed >= cfg.SessionTTL {
		t.Errorf("Valid lapsed %s after the cut, not before the TTL (%s)", lapsed, cfg.SessionTTL)
	}
	t.Logf("Valid lapsed %s after etcd was cut off (TTL %s)", lapsed, cfg.SessionTTL)
}
