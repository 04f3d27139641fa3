// Package telemetry sets a process up for OpenTelemetry: traces (exported
// with OTLP only when the standard OTEL_* variables ask for it), metrics
// served to Prometheus on /metrics, W3C propagation, and JSON logs that carry
// the trace, tenant and request ids.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup installs the global tracer provider, meter provider and propagator
// for service and returns the function that flushes and stops them.
//
// Spans always get ids (for logs and propagation) but leave the process only
// when OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_TRACES_EXPORTER is set. Metrics are always readable on MetricsHandler
// and are also pushed with OTLP when OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or OTEL_METRICS_EXPORTER (other than
// prometheus or none) is set. OTEL_SERVICE_NAME overrides service.
func Setup(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	name := service
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		name = v
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithProcessPID(),
		resource.WithAttributes(attribute.String("service.name", name)))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	var stops []func(context.Context) error
	shutdown = func(ctx context.Context) error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](ctx))
		}
		stops = nil
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = shutdown(ctx)
			shutdown = nil
		}
	}()

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporting := false
	if anyEnv("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: span exporter: %w", err)
		}
		if !autoexport.IsNoneSpanExporter(exp) {
			traceOpts = append(traceOpts, sdktrace.WithBatcher(exp))
			exporting = true
		}
	}
	if !exporting && os.Getenv("OTEL_TRACES_SAMPLER") == "" {
		// Nothing would receive recorded spans: new traces still get ids (for
		// logs and propagation) but are not recorded, which saves building
		// every span's attributes. A caller's sampled trace is still honoured.
		traceOpts = append(traceOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)
	stops = append(stops, tp.Shutdown)

	reg := newRegistry()
	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	meterOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if otlpMetrics() {
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: metric reader: %w", err)
		}
		meterOpts = append(meterOpts, sdkmetric.WithReader(reader))
	}
	mp := sdkmetric.NewMeterProvider(meterOpts...)
	stops = append(stops, mp.Shutdown)

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	publish(reg)
	return shutdown, nil
}

func otlpMetrics() bool {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER"))); v {
	case "":
		return anyEnv("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
	case "prometheus", "none":
		// prometheus is what MetricsHandler serves already; autoexport would
		// open a second listener for it.
		return false
	default:
		return true
	}
}

func anyEnv(names ...string) bool {
	for _, n := range names {
		if strings.TrimSpace(os.Getenv(n)) != "" {
			return true
		}
	}
	return false
}
