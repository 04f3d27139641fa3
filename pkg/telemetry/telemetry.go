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
	"runtime/debug"
	"strings"
	"sync"

	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Setup installs the global tracer provider, meter provider and propagator
// for service and returns the function that flushes and stops them.
//
// Spans always get ids (for logs and propagation) but leave the process only
// when OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_TRACES_EXPORTER is set. Metrics are always readable on MetricsHandler
// and are also pushed with OTLP when OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or OTEL_METRICS_EXPORTER (other than
// prometheus or none) is set. OTEL_EXPORTER_OTLP_PROTOCOL (or the
// per-signal variables) picks http/protobuf (the default) or grpc.
// OTEL_SERVICE_NAME overrides service.
func Setup(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	if err := checkProtocols(); err != nil {
		return nil, err
	}
	res, err := newResource(ctx, service)
	if err != nil {
		return nil, err
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

// newResource describes this process: service.name (OTEL_SERVICE_NAME
// overrides service), service.version, service.instance.id and host.name,
// then whatever OTEL_RESOURCE_ATTRIBUTES adds or overrides.
func newResource(ctx context.Context, service string) (*resource.Resource, error) {
	name := service
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		name = v
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceVersion(Version()), semconv.ServiceInstanceID(instanceID())),
		resource.WithHost(), resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithProcessPID(),
		resource.WithAttributes(semconv.ServiceName(name)))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// version is the release, set when building a release with
// -ldflags "-X github.com/rapportcrm/rapport/pkg/telemetry.version=v1.2.3".
var version string

// Version is this program's version: the one set at link time, else the
// main module's version (go install module@version), else the VCS revision
// the build recorded, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return "devel"
	}
	return rev[:min(12, len(rev))] + dirty
}

// instanceID tells this process apart from every other replica and restart
// of the same service, as service.instance.id must: a random UUID, once.
var instanceID = sync.OnceValue(func() string { return uuid.NewString() })

// checkProtocols refuses an OTLP protocol the exporters do not speak, naming
// the variable, rather than failing later with an exporter's message.
func checkProtocols() error {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"} {
		switch v := os.Getenv(k); v {
		case "", "grpc", "http/protobuf":
		default:
			return fmt.Errorf("telemetry: %s=%q: want grpc or http/protobuf", k, v)
		}
	}
	return nil
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
