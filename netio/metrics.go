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
)
