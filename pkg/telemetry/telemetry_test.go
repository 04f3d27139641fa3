package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"

	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// otelEnv clears every variable that could make Setup export.
func otelEnv(t *testing.T, set map[string]string) {
	t.Helper()
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
		"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
		"OTEL_RESOURCE_ATTRIBUTES"} {
		t.Setenv(k, set[k])
	}
}

// collector is a fake OTLP/HTTP receiver that counts what it is sent.
type collector struct {
	mu    sync.Mutex
	paths []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

func scrape(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: want 200, have %d", rec.Code)
	}
	return rec.Body.String()
}

func TestSetupWithoutEnvExportsNothingAndServesMetrics(t *testing.T) {
	otelEnv(t, nil)
	// A collector on the default OTLP/HTTP port would receive anything a
	// default-configured exporter sent.
	c := &collector{}
	if l, err := net.Listen("tcp", "127.0.0.1:4318"); err == nil {
		srv := &http.Server{Handler: c}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	} else {
		t.Logf("default OTLP port busy (%v); checking ids and metrics only", err)
	}
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "test-svc")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "work")
	if !span.SpanContext().IsValid() {
		t.Fatal("span has no ids without an exporter")
	}
	if span.IsRecording() {
		t.Fatal("spans are recorded though nothing would receive them")
	}
	span.End()
	counter, err := otel.Meter("test").Int64Counter("rapport_test_widgets")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(ctx, 3)

	have := scrape(t)
	for _, want := range []string{"rapport_test_widgets_total", `service_name="test-svc"`, "go_goroutines"} {
		if !strings.Contains(have, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, have)
		}
	}
	if !strings.Contains(have, "rapport_test_widgets_total{") || !strings.Contains(have, "} 3") {
		t.Errorf("counter value 3 missing:\n%s", have)
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.received(); len(got) != 0 {
		t.Fatalf("exported without configuration: %v", got)
	}
}

func TestSetupExportsWhenAnEndpointIsSet(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	otelEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_SERVICE_NAME": "from-env"})
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "test-svc")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "work")
	span.End()
	counter, _ := otel.Meter("test").Int64Counter("rapport_test_exported")
	counter.Add(ctx, 1)
	if have := scrape(t); !strings.Contains(have, `service_name="from-env"`) {
		t.Errorf("OTEL_SERVICE_NAME did not win:\n%s", have)
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	have := strings.Join(c.received(), " ")
	for _, want := range []string{"/v1/traces", "/v1/metrics"} {
		if !strings.Contains(have, want) {
			t.Errorf("collector did not receive %s; received %q", want, have)
		}
	}
}

func TestLoggerAddsCorrelationIDs(t *testing.T) {
	t.Setenv("LOG_LEVEL", "")
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	spanCtx, span := tp.Tracer("test").Start(context.Background(), "work")
	defer span.End()
	traced := telemetry.WithRequestID(telemetry.WithTenantID(spanCtx, "tenant-a"), "req-1")
	scoped, scope := telemetry.WithRequestScope(context.Background())
	_ = telemetry.WithTenantID(scoped, "tenant-b") // an inner layer's copy tells the scope

	for _, tc := range []struct {
		name string
		ctx  context.Context
		want map[string]any
	}{
		{"all ids", traced, map[string]any{"trace_id": span.SpanContext().TraceID().String(),
			"span_id": span.SpanContext().SpanID().String(), "tenant_id": "tenant-a", "request_id": "req-1"}},
		{"tenant from the request scope", scoped, map[string]any{"tenant_id": "tenant-b"}},
		{"none", context.Background(), map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			telemetry.NewLogger(&buf, "svc").InfoContext(tc.ctx, "hello", "k", "v")
			var have map[string]any
			if err := json.Unmarshal(buf.Bytes(), &have); err != nil {
				t.Fatalf("not JSON: %q", buf.String())
			}
			if have["service"] != "svc" || have["msg"] != "hello" || have["k"] != "v" {
				t.Errorf("record lost its own attributes: %v", have)
			}
			for _, k := range []string{"trace_id", "span_id", "tenant_id", "request_id"} {
				if want, ok := tc.want[k]; ok && have[k] != want {
					t.Errorf("%s: want %v, have %v", k, want, have[k])
				}
				if _, ok := tc.want[k]; !ok && have[k] != nil {
					t.Errorf("%s: want absent, have %v", k, have[k])
				}
			}
		})
	}
	if scope.TenantID() != "tenant-b" {
		t.Errorf("scope tenant: want tenant-b, have %q", scope.TenantID())
	}
}

func TestLoggerLevelFromEnv(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  []string
	}{
		{"", []string{"info", "warn", "error"}},
		{"debug", []string{"debug", "info", "warn", "error"}},
		{"WARN", []string{"warn", "error"}},
		{"error", []string{"error"}},
	} {
		t.Run(tc.level, func(t *testing.T) {
			t.Setenv("LOG_LEVEL", tc.level)
			var buf bytes.Buffer
			log := telemetry.NewLogger(&buf, "svc")
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			var have []string
			dec := json.NewDecoder(&buf)
			for dec.More() {
				var rec struct{ Msg string }
				if err := dec.Decode(&rec); err != nil {
					t.Fatal(err)
				}
				have = append(have, rec.Msg)
			}
			if strings.Join(have, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("want %v, have %v", tc.want, have)
			}
		})
	}
}

// grpcCollector is an OTLP/gRPC receiver that keeps the resources of what
// it is sent, by signal.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	colmetricspb.UnimplementedMetricsServiceServer
	mu        sync.Mutex
	resources map[string][]map[string]string
}

func attrsOf(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

func (c *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		c.resources["traces"] = append(c.resources["traces"], attrsOf(rs.GetResource().GetAttributes()))
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

type metricsService struct{ *grpcCollector }

func (m metricsService) Export(_ context.Context, req *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		m.resources["metrics"] = append(m.resources["metrics"], attrsOf(rm.GetResource().GetAttributes()))
	}
	return &colmetricspb.ExportMetricsServiceResponse{}, nil
}

// OTEL_EXPORTER_OTLP_PROTOCOL=grpc sends traces and metrics over gRPC, as
// the collector's port 4317 expects, and what they describe is the process:
// its service, version and instance.
func TestSetupExportsOverGRPCWithTheProcessResource(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &grpcCollector{resources: map[string][]map[string]string{}}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	colmetricspb.RegisterMetricsServiceServer(srv, metricsService{c})
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	otelEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + l.Addr().String(), "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "grpc-svc")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "work")
	span.End()
	counter, _ := otel.Meter("test").Int64Counter("rapport_test_grpc")
	counter.Add(ctx, 1)
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, signal := range []string{"traces", "metrics"} {
		if len(c.resources[signal]) == 0 {
			t.Errorf("the gRPC collector received no %s", signal)
			continue
		}
		res := c.resources[signal][0]
		if res["service.name"] != "grpc-svc" || res["service.version"] != telemetry.Version() || res["host.name"] == "" {
			t.Errorf("%s resource %v", signal, res)
		}
		if _, err := uuid.Parse(res["service.instance.id"]); err != nil {
			t.Errorf("%s: service.instance.id %q is not a UUID", signal, res["service.instance.id"])
		}
	}
}

// The Prometheus exposition names the process too (target_info), and
// OTEL_RESOURCE_ATTRIBUTES overrides what the process found itself.
func TestResourceNamesVersionAndInstance(t *testing.T) {
	otelEnv(t, nil)
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "test-svc")
	if err != nil {
		t.Fatal(err)
	}
	have := scrape(t)
	_ = shutdown(ctx)
	if telemetry.Version() == "" || !strings.Contains(have, `service_version="`+telemetry.Version()+`"`) ||
		!strings.Contains(have, `service_instance_id="`) {
		t.Errorf("target_info lacks the version or the instance:\n%s", have)
	}

	otelEnv(t, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.version=v9.9.9,service.instance.id=pod-a"})
	shutdown, err = telemetry.Setup(ctx, "test-svc")
	if err != nil {
		t.Fatal(err)
	}
	have = scrape(t)
	_ = shutdown(ctx)
	if !strings.Contains(have, `service_version="v9.9.9"`) || !strings.Contains(have, `service_instance_id="pod-a"`) {
		t.Errorf("OTEL_RESOURCE_ATTRIBUTES did not win:\n%s", have)
	}
}

func TestSetupRefusesAnUnknownProtocolNamingTheVariable(t *testing.T) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"} {
		otelEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
		t.Setenv(k, "http/json")
		_, err := telemetry.Setup(context.Background(), "test-svc")
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=http/json: have %v, want an error naming the variable", k, err)
		}
		t.Setenv(k, "")
	}
}
