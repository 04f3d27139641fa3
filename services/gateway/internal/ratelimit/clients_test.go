package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/services/gateway/internal/ratelimit"
)

func TestClientAddr(t *testing.T) {
	proxies, err := ratelimit.ParsePrefixes("10.0.0.0/8, 192.168.1.10, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	trusting := ratelimit.NewClients(1, 1, proxies)
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"a direct client", "198.51.100.4:5555", nil, "198.51.100.4"},
		{"a direct client's forwarded-for is its own word", "198.51.100.4:5555", []string{"203.0.113.9"}, "198.51.100.4"},
		{"through a trusted proxy", "10.1.2.3:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a forged hop before the real one", "10.1.2.3:443", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies, two headers", "10.1.2.3:443", []string{"1.2.3.4, 203.0.113.9", "192.168.1.10"}, "203.0.113.9"},
		{"garbage after the client", "10.1.2.3:443", []string{"203.0.113.9, not-an-ip"}, "10.1.2.3"},
		{"a trusted proxy without the header", "10.1.2.3:443", nil, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3:443", []string{"10.9.9.9"}, "10.9.9.9"},
		{"IPv4 mapped in IPv6", "[::ffff:198.51.100.4]:5555", nil, "198.51.100.4"},
		{"IPv6 by its /64", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5555", nil, "2001:db8:1:2::"},
		{"IPv6 through a trusted proxy", "[fd00::1]:443", []string{"2001:db8:1:2::77"}, "2001:db8:1:2::"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/contacts", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if have := trusting.Addr(r); have != netip.MustParseAddr(tc.want) {
				t.Fatalf("want %s, have %s", tc.want, have)
			}
		})
	}
	if _, err := ratelimit.ParsePrefixes("10.0.0.0/8,proxy"); err == nil {
		t.Fatal("a host name is no proxy address")
	}
}

func TestClientsLimitFailuresPerAddress(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := ratelimit.NewClients(2, 3, nil)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for range 3 {
		if _, wait := c.Take(a, now); wait != 0 {
			t.Fatalf("within the burst: wait %v", wait)
		}
	}
	if _, wait := c.Take(a, now); wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("over the burst at 2 a second: want a wait in (0, 500ms], have %v", wait)
	}
	if _, wait := c.Take(b, now); wait != 0 {
		t.Fatalf("another address waits %v", wait)
	}
	later := now.Add(500 * time.Millisecond)
	taken, wait := c.Take(a, later)
	if wait != 0 {
		t.Fatalf("half a second later: want a token, have wait %v", wait)
	}
	// A token given back (its request authenticated) is there for the next.
	taken.Return()
	if _, wait := c.Take(a, later); wait != 0 {
		t.Fatalf("after a token was given back: want it taken again, have wait %v", wait)
	}
	if _, wait := c.Take(a, later); wait <= 0 {
		t.Fatal("the bucket was empty again, yet a token was taken")
	}
}

func TestClientsStayBounded(t *testing.T) {
	c := ratelimit.NewClients(1, 1, nil)
	now := time.Unix(1_700_000_000, 0)
	// Every address is fresh and limited, so none can be forgotten for
	// being idle: the map still stops growing.
	for i := range 1<<16 + 5000 {
		c.Take(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := c.Len(); n > 1<<16 {
		t.Fatalf("%d addresses tracked, want at most %d", n, 1<<16)
	}
	// Idle ones go first. Half as many new addresses fill the map once, so
	// the one eviction finds the idle ones (a map of fresh addresses only
	// would lose an arbitrary eighth, this one included).
	later := now.Add(time.Hour)
	c.Take(netip.MustParseAddr("192.0.2.1"), later)
	for i := range 1 << 15 {
		c.Take(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), later)
	}
	if _, wait := c.Take(netip.MustParseAddr("192.0.2.1"), later); wait == 0 {
		t.Fatal("a limited address seen a moment ago was forgotten before idle ones")
	}
}

// counting is a verifier that refuses everything and counts its calls.
type counting struct{ calls atomic.Int64 }

func (c *counting) Verify(context.Context, string) (auth.Principal, error) {
	c.calls.Add(1)
	return auth.Principal{}, apperr.New(apperr.KindUnauthorized, "invalid-token", "the token's signature does not verify")
}

func TestGuardRefusesBeforeTheVerifierIsAsked(t *testing.T) {
	v := &counting{}
	g, err := ratelimit.NewGuard(ratelimit.NewClients(0.001, 4, nil), noop.NewMeterProvider())
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	h := g.Middleware(func(string) bool { return false })(auth.Middleware(g.Charging(v))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
	})))
	codes := map[int]int{}
	for range 50 {
		r := httptest.NewRequest(http.MethodGet, "/v1/contacts", nil)
		r.Header.Set("Authorization", "Bearer a.b.c")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes[w.Code]++
	}
	if v.calls.Load() != 4 || codes[http.StatusUnauthorized] != 4 || codes[http.StatusTooManyRequests] != 46 || served != 0 {
		t.Fatalf("want the verifier asked 4 times (the burst) and 46 refusals, have %d calls, statuses %v, %d served", v.calls.Load(), codes, served)
	}
}

// BenchmarkRefuseLimited is what a request from a limited address costs the
// gateway; BenchmarkVerifyForged what it cost before, a signature check.
func BenchmarkRefuseLimited(b *testing.B) {
	g, err := ratelimit.NewGuard(ratelimit.NewClients(0.001, 1, nil), noop.NewMeterProvider())
	if err != nil {
		b.Fatal(err)
	}
	h := g.Middleware(func(string) bool { return false })(http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "/v1/contacts", nil)
	r.Header.Set("Authorization", "Bearer "+forged(b))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/contacts", nil))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkVerifyForged(b *testing.B) {
	trusted, err := devauth.LoadOrCreate(filepath.Join(b.TempDir(), "trusted.pem"))
	if err != nil {
		b.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{PublicKeyPEM: trusted.PublicKeyPEM(), Issuer: auth.DevIssuerName, Audience: auth.DevAudience})
	if err != nil {
		b.Fatal(err)
	}
	tok := forged(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			b.Fatal("a forged token verified")
		}
	}
}

func forged(b testing.TB) string {
	stranger, err := devauth.LoadOrCreate(filepath.Join(b.TempDir(), "stranger.pem"))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := stranger.Token(auth.Principal{TenantID: uuid.New(), UserID: "u"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}
