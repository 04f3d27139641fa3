package bff

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/oidctest"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// An access token about to expire is renewed with the refresh token: the
// service sees the new one and the browser's cookie is re-sealed.
func TestSessionRefreshesItsAccessToken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	p := oidctest.Start(t, "rapport", base+"/auth/callback",
		oidctest.User{Username: "ann", Password: "pw", Tenant: uuid.New(), Roles: []string{"rep"}, Team: "t1"})
	ac := auth.Config{JWKSURL: p.KeysURL, Issuer: p.Issuer, Audience: "rapport"}
	verify, err := auth.NewVerifier(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := url.Parse(base)
	b, err := New(Config{Issuer: p.Issuer, ClientID: "rapport", ClientSecret: oidctest.ClientSecret, PublicURL: public,
		Scopes: []string{"openid", "offline_access"}, SessionKeys: [][]byte{make([]byte, KeySize)}, SessionTTL: time.Hour},
		ac, verify, tenancy.NewDirectory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bearers []string
	mux := http.NewServeMux()
	b.Register(mux)
	mux.Handle("/v1/", b.Bearer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		bearers = append(bearers, r.Header.Get("Authorization"))
		mu.Unlock()
	})))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(base + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	res, err = c.PostForm(p.Issuer+"/login/username", url.Values{"id": {res.Request.URL.Query().Get("authRequestID")}, "username": {"ann"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	cookie := func() string {
		for _, ck := range jar.Cookies(public) {
			if ck.Name == "rapport-session" {
				return ck.Value
			}
		}
		return ""
	}
	first := cookie()
	if first == "" {
		t.Fatal("no session after sign-in")
	}
	get := func() {
		res, err := c.Get(base + "/v1/contacts")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
	}
	get()
	// Four minutes and forty seconds on, the provider's five-minute token
	// is within refreshAhead of its end.
	b.now = func() time.Time { return time.Now().Add(4*time.Minute + 40*time.Second) }
	get()
	if len(bearers) != 2 || bearers[0] == bearers[1] || !strings.HasPrefix(bearers[1], "Bearer ") {
		t.Fatalf("bearers seen: %d, the same twice: %v", len(bearers), len(bearers) > 1 && bearers[0] == bearers[1])
	}
	if cookie() == first {
		t.Fatal("the cookie was not re-sealed with the new token")
	}
	if _, err := verify.Verify(context.Background(), strings.TrimPrefix(bearers[1], "Bearer ")); err != nil {
		t.Fatalf("the refreshed token does not verify: %v", err)
	}
}
