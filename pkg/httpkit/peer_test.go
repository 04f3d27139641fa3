package httpkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

func TestPeerVar(t *testing.T) {
	for name, want := range map[string]string{"contacts": "CONTACTS_URL", "sales": "SALES_URL", "lead-scoring": "LEAD_SCORING_URL"} {
		if have := httpkit.PeerVar(name); have != want {
			t.Errorf("%s: want %s, have %s", name, want, have)
		}
	}
}

func TestPeerURLFromEnv(t *testing.T) {
	for v, want := range map[string]string{
		"":                           "SALES_URL is required (the sales service's base URL",
		"sales:8082":                 "SALES_URL must be an http(s) base URL",
		"ftp://h/":                   "SALES_URL must be an http(s) base URL",
		"http://h:8082/?x=1":         "SALES_URL must be an http(s) base URL",
		"http:///path":               "SALES_URL must be an http(s) base URL",
		"https://sales.internal:443": "",
	} {
		t.Setenv("SALES_URL", v)
		u, err := httpkit.PeerURLFromEnv("sales")
		switch {
		case want == "" && (err != nil || u.Host != "sales.internal:443"):
			t.Errorf("%q: %v %v", v, u, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: want an error with %q, have %v", v, want, err)
		}
	}
}

// A call to a peer carries the caller's Authorization, and a peer that
// cannot be reached is the peer's own 503 problem.
func TestPeerCarriesTheCaller(t *testing.T) {
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	var ctx context.Context
	httpkit.KeepCaller(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() })).ServeHTTP(nil,
		&http.Request{Header: http.Header{"Authorization": {"Bearer t"}, "Idempotency-Key": {"k1"}}})
	if c := httpkit.CallerFrom(ctx); c.Authorization != "Bearer t" || c.IdempotencyKey != "k1" {
		t.Fatalf("kept %+v", c)
	}
	resp, _, err := httpkit.NewPeer("sales", base).Do(ctx, http.MethodGet, "v1/deals/x", nil, "If-Match", `"1"`, "X-Empty", "")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%v %v", resp, err)
	}
	if seen.Get("Authorization") != "Bearer t" || seen.Get("If-Match") != `"1"` || seen.Values("X-Empty") != nil {
		t.Fatalf("the peer saw %v", seen)
	}
	srv.Close()
	_, _, err = httpkit.NewPeer("sales", base).Do(ctx, http.MethodGet, "v1/deals/x", nil)
	if apperr.KindOf(err) != apperr.KindUnavailable || !strings.Contains(err.Error(), "sales") {
		t.Fatalf("an unreachable peer: %v", err)
	}
}

// Read tells a record, a missing (or hidden) one and a peer in trouble apart.
func TestPeerReadTellsFoundMissingAndTroubleApart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/deals/a":
			_, _ = w.Write([]byte(`{"owner_id":"u1"}`))
		case "/v1/deals/b":
			http.NotFound(w, r)
		case "/v1/deals/c":
			_, _ = w.Write([]byte(`not json`))
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	peer := httpkit.NewPeer("sales", base)
	var deal struct {
		OwnerID string `json:"owner_id"`
	}
	if found, err := peer.Read(context.Background(), "v1/deals/a", &deal); !found || err != nil || deal.OwnerID != "u1" {
		t.Errorf("a record: %v %v %+v", found, err, deal)
	}
	if found, err := peer.Read(context.Background(), "v1/deals/b", &deal); found || err != nil {
		t.Errorf("a missing record: %v %v, want not found and no error", found, err)
	}
	for _, path := range []string{"v1/deals/c", "v1/deals/d"} {
		if found, err := peer.Read(context.Background(), path, &deal); found || apperr.KindOf(err) != apperr.KindUnavailable {
			t.Errorf("%s: %v %v, want the peer unavailable", path, found, err)
		}
	}
}
