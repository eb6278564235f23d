//go:build !kafscale_nos3

package objstore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestS3RequestTimeoutBoundsAHungServer puts MinIO behind a proxy that holds requests
// without answering. It guards against an attempt that waits on a silent server for as
// long as the caller's deadline allows: RequestTimeout must cut each hung attempt short,
// so that a Put and a ranged Get still succeed by retrying when some attempts hang, and
// fail with the per-attempt timeout, once the retries are spent, when all of them do.
func TestS3RequestTimeoutBoundsAHungServer(t *testing.T) {
	const (
		timeout  = 300 * time.Millisecond
		retries  = 3
		attempts = retries + 1
		backoff  = 20 * time.Millisecond
		// margin absorbs scheduling, connection setup and MinIO's own work on a busy machine
		// (CI runs two test packages at once on two cores); still far below outer.
		margin = 8 * time.Second
		// outer is the caller's deadline: a hang that RequestTimeout failed to bound shows
		// as this deadline expiring.
		outer = 30 * time.Second
	)
	m := testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	st := newMinIOStore(t, m, proxy.URL(), S3Config{RequestTimeout: timeout, MaxRetries: retries, MaxBackoff: backoff})

	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i * 31)
	}
	const off, n = 1000, 20000
	tests := []struct {
		name   string
		method string
		op     func(ctx context.Context, key string) error
	}{
		{"Put", http.MethodPut, func(ctx context.Context, key string) error {
			return st.Put(ctx, key, [][]byte{data[:100], data[100:]}, int64(len(data)))
		}},
		{"GetRange", http.MethodGet, func(ctx context.Context, _ string) error {
			got, err := st.GetRange(ctx, "hung/put", off, n)
			if err == nil && !bytes.Equal(got, data[off:off+n]) {
				t.Fatalf("GetRange(hung/put, %d, %d) returned different bytes", off, n)
			}
			return err
		}},
	}

	// Every attempt but the last hangs: the operation succeeds on its last attempt.
	for _, tt := range tests {
		proxy.Set(s3fault.Rule{Fault: s3fault.Hang, Next: retries, Methods: []string{tt.method}})
		before := proxy.Stats().Faulted[tt.method]
		ctx, cancel := context.WithTimeout(context.Background(), outer)
		start := time.Now()
		err := tt.op(ctx, "hung/put")
		d := time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("%s with its first %d attempts hung: %v; want success by retrying", tt.name, retries, err)
		}
		if hung := proxy.Stats().Faulted[tt.method] - before; hung != retries {
			t.Fatalf("%s: proxy hung %d %s requests; want %d", tt.name, hung, tt.method, retries)
		}
		if low, high := retries*timeout, retries*(timeout+backoff)+margin; d < low || d > high {
			t.Fatalf("%s with %d attempts hung took %s; want between %s and %s", tt.name, retries, d, low, high)
		}
		t.Logf("%s with %d attempts hung: succeeded in %s", tt.name, retries, d)
	}

	// Every attempt hangs: the operation fails with the per-attempt timeout once the retries
	// are spent, long before the caller's deadline.
	proxy.Set(s3fault.Rule{Fault: s3fault.Hang, Fraction: 1})
	for _, tt := range tests {
		before := proxy.Stats().Faulted[tt.method]
		ctx, cancel := context.WithTimeout(context.Background(), outer)
		start := time.Now()
		err := tt.op(ctx, "dead/put")
		d := time.Since(start)
		ctxErr := ctx.Err()
		cancel()
		if err == nil {
			t.Fatalf("%s with every attempt hung succeeded", tt.name)
		}
		if ctxErr != nil {
			t.Fatalf("%s with every attempt hung ran into the caller's %s deadline after %s: %v; want the per-attempt timeout to end it", tt.name, outer, d, err)
		}
		// The SDK wraps the transport in one net/http does not know, so whether the
		// error text says "Client.Timeout" depends on which of two timers fires first;
		// both ways it is context.DeadlineExceeded, and the caller's ctx is still live.
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s with every attempt hung: %v; want the per-attempt timeout (context.DeadlineExceeded)", tt.name, err)
		}
		var maxAttempts *retry.MaxAttemptsError
		if !errors.As(err, &maxAttempts) || maxAttempts.Attempt != attempts {
			t.Fatalf("%s with every attempt hung: %v; want the SDK to give up after %d attempts", tt.name, err, attempts)
		}
		if hung := proxy.Stats().Faulted[tt.method] - before; hung != attempts {
			t.Fatalf("%s: proxy hung %d %s requests; want %d", tt.name, hung, tt.method, attempts)
		}
		if low, high := attempts*timeout, attempts*(timeout+backoff)+margin; d < low || d > high {
			t.Fatalf("%s with every attempt hung failed after %s; want between %s and %s", tt.name, d, low, high)
		}
		t.Logf("%s with every attempt hung: failed in %s: %v", tt.name, d, err)
	}
}
