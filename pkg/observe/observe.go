// Package observe holds the go-kit endpoint middlewares every service wraps its
// use cases in: one log line and one metric sample per call, named by the
// endpoint, with the business error a response carries (endpoint.Failer).
package observe

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-kit/kit/endpoint"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Observer logs and measures a service's endpoint calls.
type Observer struct {
	service  string
	log      *slog.Logger
	calls    metric.Int64Counter
	duration metric.Float64Histogram
}

// durationBuckets span a use case's plausible durations in seconds, from a
// cached read (half a millisecond) to an export that hits the timeout.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New makes the observer of service's calls; its metrics are
// <service>.calls and <service>.call.duration by method and outcome
// (Prometheus: <service>_calls_total, <service>_call_duration_seconds).
func New(service string, log *slog.Logger) *Observer {
	m := otel.Meter("github.com/rapportcrm/rapport/services/" + service)
	// The constructors return a usable no-op instrument with their error;
	// a metric that cannot be registered must not stop the service.
	calls, _ := m.Int64Counter(service+".calls", metric.WithUnit("{call}"),
		metric.WithDescription("Use-case calls of the "+service+" service, by method and outcome (ok or the error's slug)."))
	dur, _ := m.Float64Histogram(service+".call.duration", metric.WithUnit("s"),
		metric.WithDescription("How long the "+service+" service's use cases took, by method and outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	return &Observer{service: service, log: log, calls: calls, duration: dur}
}

// Middleware observes the endpoint called method. Successes log at debug
// (the access log already has a line per request), business errors at info,
// internal failures at error.
func (o *Observer) Middleware(method string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, req any) (resp any, err error) {
			begin := time.Now()
			resp, err = next(ctx, req)
			failed := err
			if f, ok := resp.(endpoint.Failer); ok && failed == nil {
				failed = f.Failed()
			}
			took := time.Since(begin)
			outcome, level := "ok", slog.LevelDebug
			attrs := []any{"method", method, "took", took}
			if failed != nil {
				outcome, level = "error", slog.LevelInfo
				if e, ok := apperr.As(failed); ok {
					outcome = e.Slug
				}
				if apperr.KindOf(failed) == apperr.KindInternal {
					level = slog.LevelError
				}
				attrs = append(attrs, "err", failed)
			}
			set := metric.WithAttributes(attribute.String("method", method), attribute.String("outcome", outcome))
			o.calls.Add(ctx, 1, set)
			o.duration.Record(ctx, took.Seconds(), set)
			if o.log.Enabled(ctx, level) {
				o.log.Log(ctx, level, o.service+" call", attrs...)
			}
			return resp, err
		}
	}
}
