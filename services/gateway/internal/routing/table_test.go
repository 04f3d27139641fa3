package routing_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
)

func TestDefaultRoutesEachCollectionToItsService(t *testing.T) {
	want := map[string]string{
		"contacts": "contacts", "companies": "contacts", "fields": "contacts", "activities": "contacts",
		"imports": "contacts", "lead-sources": "contacts",
		"pipelines": "sales", "deals": "sales", "loss-reasons": "sales", "currency-rates": "sales",
	}
	for c, upstream := range want {
		if have := routing.Default[c]; have != upstream {
			t.Errorf("/v1/%s: want upstream %q, have %q", c, upstream, have)
		}
	}
	if have := routing.Default.Upstreams(); !slices.Equal(have, catalog.Names()) {
		t.Errorf("upstreams: want [contacts sales], have %v", have)
	}
}

func TestRegisterProxiesToTheCollectionsUpstream(t *testing.T) {
	upstreams := map[string]*url.URL{}
	for _, name := range routing.Default.Upstreams() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.URL.Path)
		}))
		t.Cleanup(srv.Close)
		upstreams[name], _ = url.Parse(srv.URL)
	}
	mux := http.NewServeMux()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := routing.Default.Register(mux, upstreams, http.DefaultTransport, log); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{"/v1/contacts/c-1", "contacts /v1/contacts/c-1"},
		{"/v1/pipelines", "sales /v1/pipelines"},
		{"/v1/pipelines/p-1/stages", "sales /v1/pipelines/p-1/stages"},
		{"/v1/deals/d-1", "sales /v1/deals/d-1"},
		{"/v1/loss-reasons", "sales /v1/loss-reasons"},
		{"/v1/currency-rates", "sales /v1/currency-rates"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if have := rec.Body.String(); rec.Code != http.StatusOK || have != tt.want {
			t.Errorf("%s: want 200 %q, have %d %q", tt.path, tt.want, rec.Code, have)
		}
	}
}

func TestRegisterNeedsAURLForEveryUpstream(t *testing.T) {
	contacts, _ := url.Parse("http://127.0.0.1:8081")
	err := routing.Default.Register(http.NewServeMux(), map[string]*url.URL{"contacts": contacts},
		http.DefaultTransport, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("want an error for the sales upstream without a URL")
	}
}
