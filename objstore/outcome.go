package objstore

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/internal/histbuckets"
)

// Outcomes of an object-store request, the outcome label of
// kafscale_object_request_outcomes_total: a fixed set, so that the series are bounded
// (ops x outcomes) and all exported at zero from the start. The three expected answers
// (not_found, exists, out_of_range) are part of the store's contract, not failures; the
// others tell an operator where to look: throttled and server_error at the provider,
// client_error at credentials, bucket or policy, network and timeout between the two,
// canceled at the broker itself (a request given up, a shutdown).
const (
	OutcomeOK           = "ok"
	OutcomeNotFound     = "not_found"
	OutcomeExists       = "exists"
	OutcomeOutOfRange   = "out_of_range"
	OutcomeThrottled    = "throttled"
	OutcomeServerError  = "server_error"
	OutcomeClientError  = "client_error"
	OutcomeTimeout      = "timeout"
	OutcomeNetwork      = "network"
	OutcomeCanceled     = "canceled"
	OutcomeOther        = "other_error"
	opPut, opGet        = "put", "get"
	opList, opDelete    = "list", "delete"
	outcomeMetricPrefix = `kafscale_object_request_outcomes_total{op="`
)

var (
	outcomes = []string{OutcomeOK, OutcomeNotFound, OutcomeExists, OutcomeOutOfRange, OutcomeThrottled,
		OutcomeServerError, OutcomeClientError, OutcomeTimeout, OutcomeNetwork, OutcomeCanceled, OutcomeOther}
	ops = []string{opPut, opGet, opList, opDelete}

	// outcomeCounters holds every op x outcome counter, created here so each series is
	// exported at zero before its first request.
	outcomeCounters = func() map[string]map[string]*metrics.Counter {
		m := make(map[string]map[string]*metrics.Counter, len(ops))
		for _, op := range ops {
			m[op] = make(map[string]*metrics.Counter, len(outcomes))
			for _, o := range outcomes {
				m[op][o] = metrics.NewCounter(outcomeMetricPrefix + op + `",outcome="` + o + `"}`)
			}
		}
		return m
	}()

	// requestDurations is kafscale_object_request_duration_seconds{op}: the whole request as
	// the broker waits for it, the S3 client's retries included, whatever its outcome.
	requestDurations = func() map[string]*metrics.PrometheusHistogram {
		m := make(map[string]*metrics.PrometheusHistogram, len(ops))
		for _, op := range ops {
			m[op] = metrics.NewPrometheusHistogramExt(`kafscale_object_request_duration_seconds{op="`+op+`"}`, histbuckets.Seconds)
		}
		return m
	}()
)

// observe records one finished request of op that started at start.
func observe(op string, start time.Time, err error) {
	requestDurations[op].UpdateDuration(start)
	outcomeCounters[op][Outcome(err)].Inc()
}

// statusCoder is what the S3 client's HTTP response errors implement (aws-sdk-go-v2's
// awshttp.ResponseError, through smithy's); matching on it keeps this file free of the S3
// build tag.
type statusCoder interface{ HTTPStatusCode() int }

// codeCarrier is what smithy's API errors implement (the S3 error code, "SlowDown").
type codeCarrier interface{ ErrorCode() string }

// Outcome names the outcome of a request that returned err, one of the Outcome constants.
// The store's own sentinel errors come first, then what the S3 client reports: an HTTP
// status or error code, a timeout, a transport failure.
func Outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrExists):
		return OutcomeExists
	case errors.Is(err, ErrOutOfRange):
		return OutcomeOutOfRange
	}
	var cc codeCarrier
	if errors.As(err, &cc) {
		switch cc.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests", "RequestThrottled":
			return OutcomeThrottled
		}
	}
	var sc statusCoder
	if errors.As(err, &sc) {
		switch status := sc.HTTPStatusCode(); {
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			return OutcomeThrottled
		case status >= 500:
			return OutcomeServerError
		case status >= 400:
			return OutcomeClientError
		}
	}
	// A canceled context can surface wrapped in a transport error, so it is looked for first.
	if errors.Is(err, context.Canceled) {
		return OutcomeCanceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return OutcomeTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return OutcomeTimeout
		}
		return OutcomeNetwork
	}
	return OutcomeOther
}
