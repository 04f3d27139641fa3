// Package kit holds the go-kit endpoint middlewares every service wraps its
// use cases in: one log line and one metric sample per call, named by the
// endpoint, with the business error a response carries (endpoint.Failer).
package kit

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

// NewObserver makes the observer of service's calls; its metrics are
// <service>.calls and <service>.call.duration by method and outcome.
func NewObserver(service string, log *slog.Logger) *Observer {
	m := otel.Meter("github.com/rapportcrm/rapport/services/" + service)
	calls, _ := m.Int64Counter(service+".calls", metric.WithDescription(service+" use-case calls"))
	dur, _ := m.Float64Histogram(service+".call.duration", metric.WithUnit("s"))
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
