package app_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/services/gateway/internal/metering"
)

func TestRequestsWithoutAValidTokenAreUnauthorized(t *testing.T) {
	h := start(t, options{})
	tenant := h.tenant(0)
	tests := []struct {
		name   string
		bearer string
		header http.Header
	}{
		{name: "missing"},
		{name: "garbage", bearer: "not-a-jwt"},
		{name: "expired", bearer: h.token(tenant, -time.Hour)},
		{name: "other scheme", header: http.Header{"Authorization": {"Basic dTpw"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have := h.do(http.MethodGet, "/v1/contacts", tt.bearer, "", tt.header)
			wantProblem(t, have, http.StatusUnauthorized, "")
		})
	}
	if got := h.upstream.requests(); len(got) != 0 {
		t.Fatalf("upstream reached without a valid token: %+v", got)
	}
}

func TestTenantAdmission(t *testing.T) {
	h := start(t, options{})
	active := h.tenant(0)
	retained, deleted := uuid.New(), uuid.New()
	h.publish(&tenancyv1.TenantRecord{Id: retained.String(), Generation: 2, Deleting: true,
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_RETAIN})
	h.publish(&tenancyv1.TenantRecord{Id: deleted.String(), Generation: 2, Deleting: true,
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE})
	tests := []struct {
		name   string
		tenant uuid.UUID
		method string
		want   int
		slug   string
	}{
		{"active reads", active, http.MethodGet, http.StatusCreated, ""},
		{"active writes", active, http.MethodPost, http.StatusCreated, ""},
		{"unknown", uuid.New(), http.MethodGet, http.StatusForbidden, "tenant-unknown"},
		{"retained reads", retained, http.MethodGet, http.StatusCreated, ""},
		{"retained writes", retained, http.MethodPost, http.StatusForbidden, "tenant-read-only"},
		{"deleted reads", deleted, http.MethodGet, http.StatusForbidden, "tenant-deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have := h.do(tt.method, "/v1/contacts", h.token(tt.tenant, time.Hour), "", nil)
			if tt.slug == "" {
				if have.status != tt.want {
					t.Fatalf("status: want %d, have %d (%s)", tt.want, have.status, have.body)
				}
				return
			}
			wantProblem(t, have, tt.want, tt.slug)
		})
	}
}

func TestSuspendedTenantIsRefusedUntilResumed(t *testing.T) {
	h := start(t, options{})
	id := uuid.New()
	h.publish(&tenancyv1.TenantRecord{Id: id.String(), Generation: 1, Suspended: true})
	tok := h.token(id, time.Hour)

	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", tok, "", nil), http.StatusForbidden, "tenant-suspended")
	if got := h.upstream.requests(); len(got) != 0 {
		t.Fatalf("a suspended tenant's request reached the upstream: %+v", got)
	}

	h.publish(&tenancyv1.TenantRecord{Id: id.String(), Generation: 2, Suspended: false})
	if have := h.do(http.MethodGet, "/v1/contacts", tok, "", nil); have.status != http.StatusCreated {
		t.Fatalf("after resuming: want %d, have %d (%s)", http.StatusCreated, have.status, have.body)
	}
}

func TestProxyForwardsTheRequestAndTheTrace(t *testing.T) {
	spans := testenv.Spans(t)
	h := start(t, options{})
	tok := h.token(h.tenant(0), time.Hour)
	header := http.Header{
		"Content-Type":    {"application/json"},
		"Idempotency-Key": {"k-1"},
		"X-Request-Id":    {"req-42"},
		"Connection":      {"X-Hop"},
		"X-Hop":           {"secret"},
	}
	have := h.do(http.MethodPatch, "/v1/contacts/c-1/merge?into=c-2&dry_run=true", tok, `{"name":"Ada"}`, header)
	if have.status != http.StatusCreated || string(have.body) != `{"id":"c-1"}` || have.header.Get("ETag") != `"v1"` {
		t.Fatalf("response not passed back: %d %v %s", have.status, have.header, have.body)
	}

	got := h.upstream.requests()
	if len(got) != 1 {
		t.Fatalf("upstream received %d requests, want 1", len(got))
	}
	r := got[0]
	want := received{Method: http.MethodPatch, Path: "/v1/contacts/c-1/merge", Query: "into=c-2&dry_run=true", Body: `{"name":"Ada"}`}
	if r.Method != want.Method || r.Path != want.Path || r.Query != want.Query || r.Body != want.Body {
		t.Fatalf("want %+v, have %+v", want, r)
	}
	for name, value := range map[string]string{
		"Authorization":   "Bearer " + tok,
		"Idempotency-Key": "k-1",
		"X-Request-Id":    "req-42",
		"Content-Type":    "application/json",
	} {
		if r.Header.Get(name) != value {
			t.Errorf("%s: want %q, have %q", name, value, r.Header.Get(name))
		}
	}
	if v := r.Header.Get("X-Hop"); v != "" {
		t.Errorf("hop-by-hop header X-Hop reached the upstream: %q", v)
	}

	// The gateway's client span carries the request; its parent is the
	// gateway's server span, so one trace runs through both processes.
	tp := strings.Split(r.Header.Get("Traceparent"), "-")
	if len(tp) != 4 {
		t.Fatalf("traceparent: want a W3C trace context, have %q", r.Header.Get("Traceparent"))
	}
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		byID[s.SpanContext().SpanID().String()] = s
	}
	client, ok := byID[tp[2]]
	if !ok || client.SpanKind() != trace.SpanKindClient || client.SpanContext().TraceID().String() != tp[1] {
		t.Fatalf("traceparent %v names no gateway client span", tp)
	}
	server, ok := byID[client.Parent().SpanID().String()]
	if !ok || server.SpanKind() != trace.SpanKindServer || server.SpanContext().TraceID().String() != tp[1] {
		t.Fatalf("the client span's parent is not the gateway's server span in trace %s", tp[1])
	}

	// Without a request id from the client, the gateway makes one and passes it on.
	have = h.do(http.MethodGet, "/v1/contacts", tok, "", nil)
	id := have.header.Get("X-Request-Id")
	if got := h.upstream.requests(); id == "" || got[len(got)-1].Header.Get("X-Request-Id") != id {
		t.Fatalf("X-Request-Id: the client got %q, the upstream %q", id, got[len(got)-1].Header.Get("X-Request-Id"))
	}
	if ids := have.header.Values("X-Request-Id"); len(ids) != 1 {
		t.Fatalf("the client got X-Request-Id %d times: %v", len(ids), ids)
	}
}

func TestRoutingTable(t *testing.T) {
	h := start(t, options{})
	tok := h.token(h.tenant(0), time.Hour)
	tests := []struct {
		path     string
		upstream string
	}{
		{"/v1/contacts", "contacts"},
		{"/v1/contacts/c-1", "contacts"},
		{"/v1/companies", "contacts"},
		{"/v1/fields/f-1", "contacts"},
		{"/v1/activities", "contacts"},
		{"/v1/imports/i-1/rows", "contacts"},
		{"/v1/lead-sources", "contacts"},
		{"/v1/pipelines", "sales"},
		{"/v1/pipelines/p-1/stages", "sales"},
		{"/v1/deals/d-1", "sales"},
		{"/v1/loss-reasons", "sales"},
		{"/v1/currency-rates", "sales"},
	}
	for _, tt := range tests {
		have := h.do(http.MethodGet, tt.path, tok, "", nil)
		if have.status != http.StatusCreated {
			t.Errorf("%s: want the upstream's %d, have %d (%s)", tt.path, http.StatusCreated, have.status, have.body)
			continue
		}
		got := h.upstreams[tt.upstream].requests()
		if len(got) == 0 || got[len(got)-1].Path != tt.path {
			t.Errorf("%s: want it proxied to %s, which last saw %v", tt.path, tt.upstream, got)
		}
	}
	for _, path := range []string{"/v1/nothing", "/v1/contactsx", "/v1/dealsx", "/v1/"} {
		wantProblem(t, h.do(http.MethodGet, path, tok, "", nil), http.StatusNotFound, "not-found")
	}
	want := map[string]int{}
	for _, tt := range tests {
		want[tt.upstream]++
	}
	for name, u := range h.upstreams {
		if n := len(u.requests()); n != want[name] {
			t.Errorf("upstream %s received %d requests, want %d", name, n, want[name])
		}
	}
}

func TestRateLimitIsPerTenant(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_DEFAULT_RPS": "0.1", "GATEWAY_BURST": "3"}})
	busy, quiet := h.tenant(0), h.tenant(0)
	busyTok := h.token(busy, time.Hour)
	for i := range 3 {
		if have := h.do(http.MethodGet, "/v1/contacts", busyTok, "", nil); have.status != http.StatusCreated {
			t.Fatalf("request %d within the burst: want %d, have %d (%s)", i+1, http.StatusCreated, have.status, have.body)
		}
	}
	have := h.do(http.MethodGet, "/v1/contacts", busyTok, "", nil)
	wantProblem(t, have, http.StatusTooManyRequests, "rate-limited")
	secs, err := strconv.Atoi(have.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 10 {
		t.Fatalf("Retry-After: want whole seconds in [1, 10] at 0.1 rps, have %q", have.header.Get("Retry-After"))
	}
	if have := h.do(http.MethodGet, "/v1/contacts", h.token(quiet, time.Hour), "", nil); have.status != http.StatusCreated {
		t.Fatalf("another tenant: want %d, have %d (%s)", http.StatusCreated, have.status, have.body)
	}
}

func TestQuotaFromTheRecordOverridesTheDefault(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_DEFAULT_RPS": "1", "GATEWAY_BURST": "2"}})
	id := uuid.New()
	h.publish(&tenancyv1.TenantRecord{Id: id.String(), Generation: 1, Quotas: &tenancyv1.Quotas{RequestsPerSecond: 1000}})
	tok := h.token(id, time.Hour)
	for i := range 20 {
		if have := h.do(http.MethodGet, "/v1/contacts", tok, "", nil); have.status != http.StatusCreated {
			t.Fatalf("request %d under a quota of 1000 rps: want %d, have %d (%s)", i+1, http.StatusCreated, have.status, have.body)
		}
	}

	// Lowering the quota replaces the tenant's bucket.
	h.publish(&tenancyv1.TenantRecord{Id: id.String(), Generation: 2, Quotas: &tenancyv1.Quotas{RequestsPerSecond: 1}})
	statuses := map[int]int{}
	for range 5 {
		statuses[h.do(http.MethodGet, "/v1/contacts", tok, "", nil).status]++
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Fatalf("a quota of 1 rps let 5 quick requests through: %v", statuses)
	}
}

func TestUnreachableUpstreamIsBadGateway(t *testing.T) {
	h := start(t, options{urls: map[string]string{"sales": "http://" + closedAddr(t)}})
	tok := h.token(h.tenant(0), time.Hour)
	have := h.do(http.MethodGet, "/v1/deals", tok, "", nil)
	wantProblem(t, have, http.StatusBadGateway, "upstream-unavailable")
	if !strings.Contains(have.problem.Detail, "sales") {
		t.Fatalf("the problem should name the sales service: %s", have.body)
	}
	// One service down leaves the others served.
	if have := h.do(http.MethodGet, "/v1/contacts", tok, "", nil); have.status != http.StatusCreated {
		t.Fatalf("contacts while sales is down: want %d, have %d (%s)", http.StatusCreated, have.status, have.body)
	}
}

func TestReadiness(t *testing.T) {
	h := start(t, options{})
	h.tenant(0) // returns once the directory holds the tenant
	if have := h.do(http.MethodGet, "/healthz", "", "", nil); have.status != http.StatusOK {
		t.Fatalf("/healthz: want 200, have %d", have.status)
	}
	// The directory reports itself loaded once it has caught up with the
	// topic, which may come a moment after it applied the first record.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		have := h.do(http.MethodGet, "/readyz", "", "", nil)
		if have.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with a ready upstream: want 200, have %d (%s)", have.status, have.body)
		}
	}
	h.upstream.ready.Store(http.StatusServiceUnavailable)
	have := h.do(http.MethodGet, "/readyz", "", "", nil)
	wantProblem(t, have, http.StatusServiceUnavailable, "not-ready")
	if !strings.Contains(have.problem.Detail, "upstream contacts") {
		t.Fatalf("/readyz should name the upstream that is not ready: %s", have.body)
	}
	if have := h.do(http.MethodGet, "/healthz", "", "", nil); have.status != http.StatusOK {
		t.Fatalf("/healthz while the upstream is not ready: want 200, have %d", have.status)
	}
}

func TestReadinessWithTheUpstreamDown(t *testing.T) {
	h := start(t, options{urls: map[string]string{"contacts": "http://" + closedAddr(t)}})
	h.tenant(0)
	have := h.do(http.MethodGet, "/readyz", "", "", nil)
	wantProblem(t, have, http.StatusServiceUnavailable, "not-ready")
	if !strings.Contains(have.problem.Detail, "upstream contacts") {
		t.Fatalf("/readyz should name the upstream that is down: %s", have.body)
	}
}

func TestReadinessWaitsForTheTenantDirectory(t *testing.T) {
	h := start(t, options{brokers: closedAddr(t)})
	have := h.do(http.MethodGet, "/readyz", "", "", nil)
	wantProblem(t, have, http.StatusServiceUnavailable, "not-ready")
	if !strings.Contains(have.problem.Detail, "tenant directory") {
		t.Fatalf("/readyz should say the tenant directory is not loaded: %s", have.body)
	}
}

func TestRequestsAreCountedPerTenant(t *testing.T) {
	h := start(t, options{})
	a, b := h.tenant(0), h.tenant(0)
	for range 3 {
		h.do(http.MethodGet, "/v1/contacts", h.token(a, time.Hour), "", nil)
	}
	h.do(http.MethodGet, "/v1/contacts", h.token(b, time.Hour), "", nil)
	want := map[string]int64{a.String(): 3, b.String(): 1}
	have := map[string]int64{}
	var rm metricdata.ResourceMetrics
	if err := metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metering.InstrumentName {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				tenant, _ := dp.Attributes.Value(attribute.Key("tenant_id"))
				if _, ok := want[tenant.AsString()]; ok {
					have[tenant.AsString()] += dp.Value
				}
			}
		}
	}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("tenant %s: want %d requests counted, have %d", k, v, have[k])
		}
	}
}

func TestShutdownDrainsRequestsInFlight(t *testing.T) {
	h := start(t, options{})
	tok := h.token(h.tenant(0), time.Hour)
	answered := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/imports/slow", strings.NewReader("a,b\n"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-h.upstream.arrived

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("the gateway stopped with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.upstream.release)
	if have := <-answered; have != http.StatusCreated {
		t.Fatalf("the request in flight: want %d, have %d", http.StatusCreated, have)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := http.Get(h.url + "/healthz"); err == nil {
		t.Fatal("the gateway still accepts connections after shutting down")
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A service's OpenAPI document is served through the gateway without a
// token; nothing else is.
func TestOpenAPIDocumentsArePublic(t *testing.T) {
	h := start(t, options{})
	have := h.do(http.MethodGet, "/v1/contacts/openapi.json", "", "", nil)
	if have.status != http.StatusCreated || len(h.upstream.requests()) != 1 || h.upstream.requests()[0].Path != "/v1/contacts/openapi.json" {
		t.Fatalf("have %d %s, upstream saw %v", have.status, have.body, h.upstream.requests())
	}
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts/c-1", "", "", nil), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, h.do(http.MethodPost, "/v1/contacts/openapi.json", "", "", nil), http.StatusUnauthorized, "unauthenticated")
}

// A query the gateway cannot read is refused with a problem, before any
// service is asked: the reverse proxy would forward what it can parse and
// drop a parameter after a ';' without a word, and the service would
// answer a list nobody asked for.
func TestUnreadableQueriesAreRefusedAtTheGateway(t *testing.T) {
	h := start(t, options{})
	tok := h.token(h.tenant(0), time.Hour)
	for _, q := range []string{"limit=5;q=a", "q=%zz", "q=%ff"} {
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts?"+q, tok, "", nil), http.StatusBadRequest, "bad-query")
	}
	if got := h.upstream.requests(); len(got) != 0 {
		t.Fatalf("the upstream was asked %d times: %+v", len(got), got)
	}
}
