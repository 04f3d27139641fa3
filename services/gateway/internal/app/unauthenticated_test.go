package app_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/services/gateway/internal/ratelimit"
)

// unauthenticated reads the gateway's count of requests that failed
// authentication ("failed": each one a token the verifier was asked about,
// or no token) and of those refused before verification ("limited").
func unauthenticated(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	have := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != ratelimit.UnauthenticatedInstrument {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := dp.Attributes.Value(attribute.Key("outcome"))
				have[outcome.AsString()] += dp.Value
			}
		}
	}
	return have
}

// forged is a token for tenant signed by a key the gateway does not trust:
// well formed, so only a signature check refuses it.
func (h *harness) forged(tenant uuid.UUID) string {
	h.t.Helper()
	stranger, err := devauth.LoadOrCreate(filepath.Join(h.t.TempDir(), "stranger.pem"))
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := stranger.Token(auth.Principal{TenantID: tenant, UserID: "u-1", Roles: []string{"admin"}}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func from(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }

// A flood of bad tokens from one address is refused with 429 before its
// tokens are verified, while a tenant calling from elsewhere is served.
func TestFailedAuthenticationIsLimitedPerAddressBeforeVerification(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_UNAUTH_RPS": "1", "GATEWAY_UNAUTH_BURST": "5",
		"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}})
	tenant := h.tenant(0)
	attacker, user := "203.0.113.7", "198.51.100.9"
	known := h.token(tenant, time.Hour)
	if have := h.do(http.MethodGet, "/v1/contacts", known, "", from(attacker)); have.status != http.StatusCreated {
		t.Fatalf("a valid token before the flood: want %d, have %d (%s)", http.StatusCreated, have.status, have.body)
	}
	bad := h.forged(tenant)
	before := unauthenticated(t)
	began := time.Now()

	const flood = 200
	statuses := map[int]int{}
	for i := range flood {
		have := h.do(http.MethodGet, "/v1/contacts", bad, "", from(attacker))
		statuses[have.status]++
		if have.status == http.StatusTooManyRequests {
			wantProblem(t, have, http.StatusTooManyRequests, "rate-limited")
			if secs, err := strconv.Atoi(have.header.Get("Retry-After")); err != nil || secs < 1 || secs > 2 {
				t.Fatalf("Retry-After at 1 failure a second: want 1 or 2 s, have %q", have.header.Get("Retry-After"))
			}
			if !strings.Contains(have.problem.Detail, "without a valid token") {
				t.Fatalf("the 429 should say why: %s", have.body)
			}
		}
		// The tenant, from another address, is served throughout.
		if i%20 == 0 {
			if have := h.do(http.MethodGet, "/v1/contacts", h.token(tenant, time.Hour), "", from(user)); have.status != http.StatusCreated {
				t.Fatalf("the tenant from another address during the flood: want %d, have %d (%s)", http.StatusCreated, have.status, have.body)
			}
		}
	}
	elapsed := time.Since(began)
	after := unauthenticated(t)
	verified, limited := after["failed"]-before["failed"], after["limited"]-before["limited"]

	// The burst, plus what refills at 1 a second, reaches the verifier; the
	// rest is refused unverified.
	allowed := int64(5 + elapsed.Seconds() + 1)
	if verified > allowed || int64(statuses[http.StatusUnauthorized]) != verified {
		t.Fatalf("%d bad tokens verified (and %d answered 401) in %s; at most %d should reach the verifier", verified, statuses[http.StatusUnauthorized], elapsed, allowed)
	}
	if limited != int64(statuses[http.StatusTooManyRequests]) || limited < flood-allowed {
		t.Fatalf("%d requests refused before verification (%d answered 429), want at least %d of %d: %v", limited, statuses[http.StatusTooManyRequests], flood-allowed, flood, statuses)
	}
	if got := len(h.upstream.requests()); got != 1+flood/20 {
		t.Fatalf("the upstream saw %d requests, want the tenant's %d only", got, 1+flood/20)
	}

	// From the limited address a token verified before is still served from
	// memory; one never seen waits like the bad ones.
	if have := h.do(http.MethodGet, "/v1/contacts", known, "", from(attacker)); have.status != http.StatusCreated {
		t.Fatalf("a known valid token from the limited address: want %d, have %d (%s)", http.StatusCreated, have.status, have.body)
	}
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", h.token(tenant, 2*time.Hour), "", from(attacker)), http.StatusTooManyRequests, "rate-limited")
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "", "", from(attacker)), http.StatusTooManyRequests, "rate-limited")
}

// Bad tokens sent all at once from one address reach the verifier no more
// often than the burst, however many are in flight together.
func TestAParallelFloodOfBadTokensIsHeldToTheBurst(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_UNAUTH_RPS": "0.01", "GATEWAY_UNAUTH_BURST": "5",
		"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}})
	bad := h.forged(h.tenant(0))
	before := unauthenticated(t)
	const flood = 200
	statuses := make([]int, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do(http.MethodGet, "/v1/contacts", bad, "", from("203.0.113.8")).status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	after := unauthenticated(t)
	if verified := after["failed"] - before["failed"]; verified != 5 || counts[http.StatusUnauthorized] != 5 || counts[http.StatusTooManyRequests] != flood-5 {
		t.Fatalf("%d bad tokens verified, statuses %v; want 5 verified (the burst) and %d refused unverified", verified, counts, flood-5)
	}
}

// A tenant API key the gateway knows is served from an address that is over
// its limit, like a JWT it has verified: checking a key costs no signature.
func TestAKnownAPIKeyIsServedFromALimitedAddress(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_UNAUTH_RPS": "0.01", "GATEWAY_UNAUTH_BURST": "2",
		"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}})
	key, rec := newAPIKey(t)
	other, _ := newAPIKey(t)
	h.publish(&tenancyv1.TenantRecord{Id: uuid.NewString(), Generation: 1, ApiKeys: []*tenancyv1.ApiKey{rec}})
	office := from("203.0.113.20")
	for range 2 {
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "not-a-jwt", "", office), http.StatusUnauthorized, "invalid-token")
	}
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "not-a-jwt", "", office), http.StatusTooManyRequests, "rate-limited")
	if have := h.do(http.MethodGet, "/v1/contacts", key, "", office); have.status != http.StatusCreated {
		t.Fatalf("a known API key from the limited address: want %d from the service, have %d (%s)", http.StatusCreated, have.status, have.body)
	}
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", other, "", office), http.StatusTooManyRequests, "rate-limited")
}

// Without a trusted proxy, X-Forwarded-For is the client's word and counts
// for nothing: every request is charged to the connection's address.
func TestForwardedForIsIgnoredUnlessThePeerIsATrustedProxy(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_UNAUTH_RPS": "0.01", "GATEWAY_UNAUTH_BURST": "3"}})
	for i := range 3 {
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "not-a-jwt", "", from("192.0.2."+strconv.Itoa(i+1))), http.StatusUnauthorized, "invalid-token")
	}
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "", "", from("192.0.2.99")), http.StatusTooManyRequests, "rate-limited")
}

// A request without any token counts like one with a bad token.
func TestRequestsWithoutATokenCountAgainstTheirAddress(t *testing.T) {
	h := start(t, options{env: map[string]string{"GATEWAY_UNAUTH_RPS": "0.01", "GATEWAY_UNAUTH_BURST": "2",
		"GATEWAY_TRUSTED_PROXIES": "127.0.0.0/8"}})
	for range 2 {
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "", "", from("192.0.2.1")), http.StatusUnauthorized, "unauthenticated")
	}
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "", "", from("192.0.2.1")), http.StatusTooManyRequests, "rate-limited")
	wantProblem(t, h.do(http.MethodGet, "/v1/contacts", "", "", from("192.0.2.2")), http.StatusUnauthorized, "unauthenticated")
}

// Metrics name tenants: the gateway serves them on its ops port, and the
// API port answers 404 for them; health is on both.
func TestMetricsAreOnTheOpsPortOnly(t *testing.T) {
	h := start(t, options{})
	h.tenant(0)
	wantProblem(t, h.do(http.MethodGet, "/metrics", "", "", nil), http.StatusNotFound, "not-found")
	resp, err := http.Get(h.opsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("ops /metrics: want 200 text/plain, have %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get(h.opsURL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ops %s: want 200, have %d", path, resp.StatusCode)
			}
		}
	}
}
