// Package e2e runs the whole platform as `make run` does — deploy/local with
// real PostgreSQL, the embedded broker and every service as its own process —
// and drives it through the gateway like a user.
package e2e

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// collector is an OTLP/HTTP receiver that keeps every span it is sent.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []span
}

type span struct {
	service, name string
	traceID       string
	kind          tracepb.Span_SpanKind
	attrs         map[string]string
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = gz
		}
		raw, _ := io.ReadAll(body)
		if r.URL.Path == "/v1/traces" {
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(raw, &req); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			c.add(&req)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, a := range s.GetAttributes() {
					attrs[a.GetKey()] = a.GetValue().GetStringValue()
				}
				c.spans = append(c.spans, span{service: service, name: s.GetName(), traceID: fmt.Sprintf("%x", s.GetTraceId()), kind: s.GetKind(), attrs: attrs})
			}
		}
	}
}

func (c *collector) trace(id string) []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []span
	for _, s := range c.spans {
		if s.traceID == id {
			out = append(out, s)
		}
	}
	return out
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, method, url, token string, body string, headers ...string) reply {
	t.Helper()
	var b any
	if body != "" {
		b = body
	}
	r := testenv.Call(t, method, url, token, b, headers...)
	return reply{status: r.Status, header: r.Header, body: r.Body, raw: string(r.Raw)}
}

func (r reply) want(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("have %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// TestMakeRunServesTheReadmeAndOneTrace starts the platform from an empty
// data folder, runs the README's requests through the gateway, checks that a
// request's spans from the gateway, contacts, its SQL and the outbox relay's
// publish share one trace, then restarts on the same folder and finds the
// data still there.
func TestMakeRunServesTheReadmeAndOneTrace(t *testing.T) {
	col := newCollector(t)
	bin := platform.Build(t)
	data := filepath.Join(t.TempDir(), "data")
	p := platform.New(t, bin, data,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+col.srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	p.Start()

	tok := p.Token("demo", "admin")
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token command printed %q", tok)
	}
	// README: create (with an Idempotency-Key), read, patch with If-Match, list, delete.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	created := call(t, "POST", p.Gateway+"/v1/contacts", tok,
		`{"first_name":"Анна","last_name":"Иванова","emails":["anna@example.ru"],"phones":["+7 912 000-00-00"],"tags":["vip"]}`,
		"Idempotency-Key", "7f0c1d2e-first-try", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01").want(t, http.StatusCreated)
	id, _ := created.body["id"].(string)
	path := p.Gateway + "/v1/contacts/" + id
	got := call(t, "GET", path, tok, "").want(t, http.StatusOK)
	if got.header.Get("ETag") != `"1"` || got.body["first_name"] != "Анна" {
		t.Fatalf("have %s (ETag %s)", got.raw, got.header.Get("ETag"))
	}
	patched := call(t, "PATCH", path, tok, `{"tags":["vip","moscow"]}`, "If-Match", `"1"`).want(t, http.StatusOK)
	if patched.body["version"].(float64) != 2 {
		t.Fatalf("have %s", patched.raw)
	}
	call(t, "PATCH", path, tok, `{"tags":[]}`, "If-Match", `"1"`).want(t, http.StatusPreconditionFailed)
	list := call(t, "GET", p.Gateway+"/v1/contacts?limit=50", tok, "").want(t, http.StatusOK)
	if items, _ := list.body["items"].([]any); len(items) != 1 {
		t.Fatalf("have %s", list.raw)
	}
	// The other demo tenant sees none of it.
	other := p.Token("demo-2", "admin")
	call(t, "GET", path, other, "").want(t, http.StatusNotFound)
	call(t, "GET", path, "", "").want(t, http.StatusUnauthorized)

	// One trace: gateway → contacts → SQL → relay publish.
	var seen []span
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		seen = col.trace(traceID)
		if has(seen, "gateway", tracepb.Span_SPAN_KIND_SERVER) && has(seen, "contacts", tracepb.Span_SPAN_KIND_SERVER) &&
			hasSQL(seen) && has(seen, "contacts", tracepb.Span_SPAN_KIND_PRODUCER) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !has(seen, "gateway", tracepb.Span_SPAN_KIND_SERVER) || !has(seen, "contacts", tracepb.Span_SPAN_KIND_SERVER) ||
		!hasSQL(seen) || !has(seen, "contacts", tracepb.Span_SPAN_KIND_PRODUCER) {
		t.Fatalf("trace %s lacks a gateway server, contacts server, SQL or relay publish span; have %+v", traceID, seen)
	}

	p.Stop()

	// A second run on the same folder keeps the data.
	again := platform.New(t, bin, data)
	again.Start()
	tok = again.Token("demo", "admin")
	kept := call(t, "GET", again.Gateway+"/v1/contacts/"+id, tok, "").want(t, http.StatusOK)
	if kept.body["version"].(float64) != 2 {
		t.Fatalf("after restart have %s", kept.raw)
	}
	call(t, "DELETE", again.Gateway+"/v1/contacts/"+id, tok, "").want(t, http.StatusNoContent)
	call(t, "GET", again.Gateway+"/v1/contacts/"+id, tok, "").want(t, http.StatusNotFound)
	again.Stop()
}

func has(spans []span, service string, kind tracepb.Span_SpanKind) bool {
	for _, s := range spans {
		if s.service == service && s.kind == kind {
			return true
		}
	}
	return false
}

func hasSQL(spans []span) bool {
	for _, s := range spans {
		if s.service == "contacts" && s.kind == tracepb.Span_SPAN_KIND_CLIENT && (s.attrs["db.system"] == "postgresql" || s.attrs["db.system.name"] == "postgresql") {
			return true
		}
	}
	return false
}
