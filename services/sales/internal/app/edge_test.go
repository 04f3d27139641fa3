package app_test

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// Sales' mux sits behind layers that copy the request; its server spans
// and the request duration metric still name each request's route (they
// were all "POST /v1/", and the metric had no route).
func TestSpansAndMetricsNameTheRoute(t *testing.T) {
	spans := testenv.Spans(t)
	reader := sdkmetric.NewManualReader()
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() {
		if p, ok := prev.(*sdkmetric.MeterProvider); ok {
			otel.SetMeterProvider(p)
		}
	})
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	created := h.do("POST", "/v1/deals", rep, map[string]any{"title": "Fleet renewal"}).Want(t, http.StatusCreated)
	id := created.Str("id")
	read := h.do("GET", "/v1/deals/"+id, rep, nil).Want(t, http.StatusOK)

	for reqID, want := range map[string][2]string{
		created.Header.Get(httpkit.HeaderRequestID): {"POST /v1/deals", "/v1/deals"},
		read.Header.Get(httpkit.HeaderRequestID):    {"GET /v1/deals/{id}", "/v1/deals/{id}"},
	} {
		s := serverSpan(t, spans.Ended(), reqID)
		if s.Name() != want[0] || attr(s, "http.route") != want[1] {
			t.Errorf("span %q with http.route %q, want %q and %q", s.Name(), attr(s, "http.route"), want[0], want[1])
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if hist, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "http.server.request.duration" {
				for _, dp := range hist.DataPoints {
					v, _ := dp.Attributes.Value("http.route")
					routes[v.AsString()] = true
				}
			}
		}
	}
	if !routes["/v1/deals"] || !routes["/v1/deals/{id}"] || routes["/v1/"] {
		t.Fatalf("request duration routes %v", routes)
	}
}

// serverSpan is the server span of the request with X-Request-Id id.
func serverSpan(t *testing.T, spans []sdktrace.ReadOnlySpan, id string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer && attr(s, "http.request.header.x-request-id") == id {
			return s
		}
	}
	t.Fatalf("no server span for request %s", id)
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			if a.Value.Type() == attribute.STRINGSLICE {
				if v := a.Value.AsStringSlice(); len(v) > 0 {
					return v[0]
				}
			}
			return a.Value.Emit()
		}
	}
	return ""
}

// If-Match follows RFC 9110 on deals as on contacts, and a body that is
// not JSON is 415.
func TestDealsTakeIfMatchListsAndOnlyJSON(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	id := h.do("POST", "/v1/deals", rep, map[string]any{"title": "Fleet renewal"}).Want(t, http.StatusCreated).Str("id")
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"title": "Weak"}, "If-Match", `W/"1"`).Want(t, http.StatusPreconditionFailed)
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"title": "Listed"}, "If-Match", `"7", "1"`).Want(t, http.StatusOK)
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"title": "Broken"}, "If-Match", `"2", 3`).Want(t, http.StatusBadRequest)
	h.do("POST", "/v1/deals", rep, `{"title":"Typed"}`, "Content-Type", "text/plain").Want(t, http.StatusUnsupportedMediaType)
	h.do("GET", "/v1/deals?limit=1;status=open", rep, nil).Want(t, http.StatusBadRequest)
	if n := h.countRows(h.tenantA, "deals"); n != 1 {
		t.Fatalf("%d deals", n)
	}
}
