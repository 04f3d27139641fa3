package httpkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// meterReader installs a meter provider whose metrics the test reads, and
// puts an SDK provider that was there before back afterwards.
func meterReader(t *testing.T) *sdkmetric.ManualReader {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() {
		if p, ok := prev.(*sdkmetric.MeterProvider); ok {
			otel.SetMeterProvider(p)
		}
	})
	return reader
}

// routesOf are the http.route values of the request duration metric.
func routesOf(t *testing.T, reader *sdkmetric.ManualReader) map[string]bool {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if m.Name != "http.server.request.duration" || !ok {
				continue
			}
			for _, dp := range h.DataPoints {
				v, _ := dp.Attributes.Value(attribute.Key("http.route"))
				routes[v.AsString()] = true
			}
		}
	}
	return routes
}

// A service's stack as sales builds it: the route is matched by an inner
// mux behind layers that pass copies of the request on without recording
// anything. The access log, the span and the duration metric all name
// that innermost route.
func TestRouteOfTheInnermostMuxIsLoggedTracedAndMeasured(t *testing.T) {
	spans := testenv.Spans(t)
	reader := meterReader(t)
	var traceID trace.TraceID
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/deals/{id}/win", func(w http.ResponseWriter, r *http.Request) {
		traceID = trace.SpanContextFromContext(r.Context()).TraceID()
		w.WriteHeader(http.StatusOK)
	})
	type key struct{}
	copying := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "caller")))
		})
	}
	root := http.NewServeMux()
	root.Handle("/v1/", copying(httpkit.ProblemMux(api)))
	var logs bytes.Buffer
	h := httpkit.Instrument("sales", httpkit.RequestID(httpkit.AccessLog(telemetry.NewLogger(&logs, "test"))(
		httpkit.BodyLimit(0)(httpkit.ValidQuery(httpkit.ProblemMux(root))))))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/deals/d-1/win", nil))

	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if line["route"] != "POST /v1/deals/{id}/win" {
		t.Errorf("access log route %v", line["route"])
	}
	var found bool
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID() != traceID {
			continue
		}
		found = true
		var route string
		for _, a := range s.Attributes() {
			if a.Key == "http.route" {
				route = a.Value.AsString()
			}
		}
		if s.Name() != "POST /v1/deals/{id}/win" || route != "/v1/deals/{id}/win" {
			t.Errorf("span %q with http.route %q", s.Name(), route)
		}
	}
	if !found {
		t.Error("no span for the request")
	}
	if routes := routesOf(t, reader); !routes["/v1/deals/{id}/win"] || len(routes) != 1 {
		t.Errorf("request duration routes %v", routes)
	}
}

// A client cannot mint metric series: the Host header it sends does not
// become a label of the request duration.
func TestClientsHostHeaderIsNoMetricLabel(t *testing.T) {
	reader := meterReader(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/x", func(w http.ResponseWriter, _ *http.Request) {})
	h := httpkit.Instrument("contacts", httpkit.ProblemMux(mux))
	for _, host := range []string{"a.example", "b.example", "evil-1.example:9999"} {
		r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
		r.Host = host
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "http.server.request.duration" {
				if len(h.DataPoints) != 1 {
					t.Fatalf("%d series for one route, one per Host header", len(h.DataPoints))
				}
				if v, _ := h.DataPoints[0].Attributes.Value("server.address"); v.AsString() != "contacts" {
					t.Errorf("server.address %q", v.AsString())
				}
				return
			}
		}
	}
	t.Fatal("no request duration recorded")
}
