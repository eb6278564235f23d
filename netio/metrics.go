package netio

import "github.com/VictoriaMetrics/metrics"

var (
	connectionsGauge    = metrics.NewGauge(`kafscale_netio_connections`, nil)
	requestsTotal       = metrics.NewCounter(`kafscale_netio_requests_total`)
	rejectedFramesTotal = metrics.NewCounter(`kafscale_netio_rejected_frames_total`)
	// pausesTotal counts connections that stopped being read for backpressure.
	pausesTotal = metrics.NewCounter(`kafscale_netio_backpressure_pauses_total`)
	// handlerPanicsTotal counts panics recovered from Handler.Serve.
	handlerPanicsTotal = metrics.NewCounter(`kafscale_netio_handler_panics_total`)
	// requestBytesHeld is what the request budget (QueuedMaxRequestBytes) has handed out.
	requestBytesHeld = metrics.NewGauge(`kafscale_netio_request_bytes_held`, nil)
	// waitingConnsGauge counts connections not read until the request budget has room.
	waitingConnsGauge = metrics.NewGauge(`kafscale_netio_connections_waiting_for_memory`, nil)
	// memoryPausesTotal counts the times a connection began to wait for the request budget.
	memoryPausesTotal = metrics.NewCounter(`kafscale_netio_memory_pauses_total`)
	// readControlErrorsTotal counts failures to stop or resume reading a connection.
	readControlErrorsTotal = metrics.NewCounter(`kafscale_netio_read_control_errors_total`)
	// tlsHandshakeFailuresTotal counts TLS handshakes that failed (a plaintext client on a
	// TLS port, an untrusted client certificate, a timeout).
	tlsHandshakeFailuresTotal = metrics.NewCounter(`kafscale_netio_tls_handshake_failures_total`)
	// principalMappingFailuresTotal counts client certificates that no
	// ssl.principal.mapping.rules rule maps: their connections are refused.
	principalMappingFailuresTotal = metrics.NewCounter(`kafscale_netio_principal_mapping_failures_total`)

	refusedMaxConnections = metrics.NewCounter(`kafscale_netio_refused_connections_total{reason="max_connections"}`)
	refusedMaxPerIP       = metrics.NewCounter(`kafscale_netio_refused_connections_total{reason="max_connections_per_ip"}`)
	closedReadTimeout     = metrics.NewCounter(`kafscale_netio_limit_closes_total{reason="request_read_timeout"}`)
	closedIdle            = metrics.NewCounter(`kafscale_netio_limit_closes_total{reason="idle"}`)
)

// refusedConnsTotal returns the refused-connections counter of a refusal reason.
func refusedConnsTotal(reason string) *metrics.Counter {
	if reason == refuseMaxPerIP {
		return refusedMaxPerIP
	}
	return refusedMaxConnections
}

// closedByLimitTotal returns the counter of connections closed by a sweep for reason.
func closedByLimitTotal(reason string) *metrics.Counter {
	if reason == closeIdle {
		return closedIdle
	}
	return closedReadTimeout
}
