package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// The gateway's development sign-in gets tokens the services accept, for
// the tenant, role, user and team asked; anything else is refused.
func TestSigninSignsWhatTheServicesAccept(t *testing.T) {
	l := layout{dir: t.TempDir()}
	if err := writeIssuerKeys(l); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, err := startSignin(ctx, l, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(l.issuerPub())
	if err != nil {
		t.Fatal(err)
	}
	verify, err := auth.NewVerifier(ctx, auth.Config{PublicKeyPEM: pub})
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	post := func(body string) (int, string) {
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct{ Token string }
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out.Token
	}
	status, tok := post(`{"tenant_id":"` + tenant.String() + `","role":"rep","user":"ann","team":"north","ttl_seconds":600}`)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	p, err := verify.Verify(ctx, tok)
	if err != nil || p.TenantID != tenant || p.UserID != "ann" || !p.HasRole("rep") || p.Team != "north" {
		t.Fatalf("the token says %+v (%v)", p, err)
	}
	for _, bad := range []string{
		`{"tenant_id":"` + tenant.String() + `","role":"owner","user":"ann","ttl_seconds":600}`,
		`{"tenant_id":"` + tenant.String() + `","role":"rep","user":"ann","ttl_seconds":7200}`,
		`{"role":"rep","user":"ann","ttl_seconds":600}`,
		`{"tenant_id":"` + tenant.String() + `","role":"rep","ttl_seconds":600}`,
		`not json`,
	} {
		if status, tok := post(bad); status/100 != 4 || tok != "" {
			t.Errorf("%s: status %d token %q, want refused", bad, status, tok)
		}
	}
	// A page whose name was rebound to loopback, or a plain form, gets nothing.
	good := `{"tenant_id":"` + tenant.String() + `","role":"admin","user":"eve","ttl_seconds":600}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(good))
	req.Host = "evil.example"
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("a request for another host: %v %v", res, err)
	}
	if res, err := http.Post(url, "text/plain", strings.NewReader(good)); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("a form post: %v %v", res, err)
	}
}
