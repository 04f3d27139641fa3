// Package telemetrytest lets a service's tests read its telemetry the way
// operators do: the Prometheus exposition, checked with the linter behind
// `promtool check metrics`.
package telemetrytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// Setup installs telemetry for service as a program's main does (without
// exporting anything), and puts the previous SDK providers back when the test
// ends, so that later tests of the package keep their own readers.
func Setup(t testing.TB, service string) {
	t.Helper()
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
		"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_SERVICE_NAME"} {
		t.Setenv(k, "")
	}
	tp, mp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	shutdown, err := telemetry.Setup(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("telemetry shutdown: %v", err)
		}
		// The global delegates cannot be set back; SDK providers can.
		if p, ok := tp.(*sdktrace.TracerProvider); ok {
			otel.SetTracerProvider(p)
			otel.SetTextMapPropagator(prop)
		}
		if p, ok := mp.(*sdkmetric.MeterProvider); ok {
			otel.SetMeterProvider(p)
		}
	})
}

// Scrape returns what GET /metrics serves now.
func Scrape(t testing.TB) string {
	t.Helper()
	rec := httptest.NewRecorder()
	telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: status %d", rec.Code)
	}
	return rec.Body.String()
}

// Lint fails t with every problem `promtool check metrics` would report
// for exposition (the text format).
func Lint(t testing.TB, exposition string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(exposition)).Lint()
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Value is the value of the first sample of metric (a series name such as
// events_dlq_total) whose labels include every pair of labels.
func Value(exposition, metric string, labels map[string]string) (string, bool) {
next:
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, found := strings.Cut(line, "{")
		var value string
		have := map[string]string{}
		if found {
			var set string
			set, value, _ = strings.Cut(rest, "} ")
			for _, m := range labelPair.FindAllStringSubmatch(set, -1) {
				have[m[1]] = m[2]
			}
		} else {
			name, value, _ = strings.Cut(line, " ")
		}
		if name != metric {
			continue
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return strings.Fields(value + " ")[0], true
	}
	return "", false
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
