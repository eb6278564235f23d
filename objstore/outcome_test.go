package objstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// fakeAPIError stands for the S3 client's error types: an HTTP status and an S3 code.
type fakeAPIError struct {
	status int
	code   string
}

func (e fakeAPIError) Error() string       { return fmt.Sprintf("api error %s (%d)", e.code, e.status) }
func (e fakeAPIError) HTTPStatusCode() int { return e.status }
func (e fakeAPIError) ErrorCode() string   { return e.code }

// TestOutcomeClassifiesErrors covers the errors MinIO cannot be made to answer (429, a
// SlowDown code behind another status) and wrapping by the callers.
func TestOutcomeClassifiesErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, OutcomeOK},
		{fmt.Errorf("cannot get object k: %w", ErrNotFound), OutcomeNotFound},
		{fmt.Errorf("cannot put object k: %w", ErrExists), OutcomeExists},
		{ErrOutOfRange, OutcomeOutOfRange},
		{fakeAPIError{429, ""}, OutcomeThrottled},
		{fakeAPIError{503, "SlowDown"}, OutcomeThrottled},
		{fakeAPIError{400, "SlowDown"}, OutcomeThrottled},
		{fakeAPIError{500, "InternalError"}, OutcomeServerError},
		{fakeAPIError{403, "AccessDenied"}, OutcomeClientError},
		{fmt.Errorf("wrapped: %w", fakeAPIError{404, "NoSuchBucket"}), OutcomeClientError},
		{fmt.Errorf("cannot list: %w", context.Canceled), OutcomeCanceled},
		{context.DeadlineExceeded, OutcomeTimeout},
		{os.ErrPermission, OutcomeOther},
		{errors.New("disk on fire"), OutcomeOther},
	} {
		if got := Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %s; want %s", tc.err, got, tc.want)
		}
	}
}

// TestOutcomeSeriesExportedAtZero: every op x outcome series and every duration histogram is
// in a scrape before any request, so that rate() and alerts on them see data after a restart.
func TestOutcomeSeriesExportedAtZero(t *testing.T) {
	var sb strings.Builder
	metrics.WritePrometheus(&sb, false)
	scrape := sb.String()
	for _, op := range ops {
		for _, o := range outcomes {
			if s := fmt.Sprintf(`kafscale_object_request_outcomes_total{op=%q,outcome=%q} `, op, o); !strings.Contains(scrape, s) {
				t.Errorf("scrape lacks %s", s)
			}
		}
		if s := fmt.Sprintf(`kafscale_object_request_duration_seconds_count{op=%q} `, op); !strings.Contains(scrape, s) {
			t.Errorf("scrape lacks %s", s)
		}
	}
}
