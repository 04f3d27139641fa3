package telemetry

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// exposition is the registry the latest Setup feeds and its handler; before
// Setup the registry holds only the Go runtime and process collectors.
var exposition atomic.Pointer[http.Handler]

func init() { publish(newRegistry()) }

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func publish(reg *prometheus.Registry) {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	exposition.Store(&h)
}

// MetricsHandler serves the Prometheus exposition of the metrics recorded
// through the meter provider Setup installed (mount it on GET /metrics).
func MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*exposition.Load()).ServeHTTP(w, r)
	})
}
