package routing_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
)

// Browser credentials stay at the gateway: a service gets neither the
// session cookie nor its CSRF token, and cannot set a cookie on the
// gateway's origin.
func TestProxyKeepsBrowserCredentialsAtTheGateway(t *testing.T) {
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		http.SetCookie(w, &http.Cookie{Name: "rapport-session", Value: "forged"})
		w.Header().Set("ETag", `"7"`)
	}))
	defer up.Close()
	base, _ := url.Parse(up.URL)
	proxy := routing.NewProxy("contacts", base, http.DefaultTransport, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := httptest.NewRequest(http.MethodPost, "/v1/contacts", nil)
	req.Header.Set("Cookie", "rapport-session=sealed")
	req.Header.Set("X-CSRF-Token", "csrf")
	req.Header.Set("Authorization", "Bearer token")
	w := httptest.NewRecorder()
	proxy.ServeHTTP(w, req)
	if seen.Get("Cookie") != "" || seen.Get("X-CSRF-Token") != "" || seen.Get("Authorization") != "Bearer token" {
		t.Fatalf("the service got Cookie %q, X-CSRF-Token %q, Authorization %q", seen.Get("Cookie"), seen.Get("X-CSRF-Token"), seen.Get("Authorization"))
	}
	if w.Header().Get("Set-Cookie") != "" || w.Header().Get("ETag") != `"7"` {
		t.Fatalf("the browser got Set-Cookie %q, ETag %q", w.Header().Get("Set-Cookie"), w.Header().Get("ETag"))
	}
}
