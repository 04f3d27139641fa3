package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// signer is an IdP's signing key.
type signer struct {
	alg  jwa.SignatureAlgorithm
	priv crypto.Signer
	key  jwk.Key // private, with kid
}

func newSigner(t testing.TB, alg jwa.SignatureAlgorithm, kid string) signer {
	t.Helper()
	var priv crypto.Signer
	var err error
	if alg == jwa.RS256() {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return signer{alg: alg, priv: priv, key: key}
}

func (s signer) publicPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claims are a token's claims; zero fields are left out.
type claims struct {
	iss, sub, tenant string
	aud              []string
	exp, nbf         time.Time
	roles            any
	team             string
}

func good() claims {
	return claims{iss: "https://idp.example", aud: []string{"rapport"}, sub: "user-1",
		tenant: "7c9e6679-7425-40de-944b-e07fc1f90ae7", exp: time.Now().Add(time.Hour),
		roles: []string{auth.RoleManager, auth.RoleRep}, team: "north"}
}

func (c claims) token(t testing.TB) jwt.Token {
	t.Helper()
	b := jwt.NewBuilder()
	if c.iss != "" {
		b = b.Issuer(c.iss)
	}
	if c.sub != "" {
		b = b.Subject(c.sub)
	}
	if c.aud != nil {
		b = b.Audience(c.aud)
	}
	if !c.exp.IsZero() {
		b = b.Expiration(c.exp)
	}
	if !c.nbf.IsZero() {
		b = b.NotBefore(c.nbf)
	}
	if c.tenant != "" {
		b = b.Claim("tenant_id", c.tenant)
	}
	if c.roles != nil {
		b = b.Claim("roles", c.roles)
	}
	if c.team != "" {
		b = b.Claim("team", c.team)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s signer) sign(t testing.TB, c claims) string {
	t.Helper()
	b, err := jwt.Sign(c.token(t), jwt.WithKey(s.alg, s.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jwksServer serves the public halves of signers as a JWKS.
func jwksServer(t *testing.T, signers ...signer) string {
	t.Helper()
	set := jwk.NewSet()
	for _, s := range signers {
		pub, err := jwk.PublicKeyOf(s.key)
		if err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newVerifier(t testing.TB, cfg auth.Config) auth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if cfg.Issuer == "" {
		cfg.Issuer = "https://idp.example"
	}
	if cfg.Audience == "" {
		cfg.Audience = "rapport"
	}
	v, err := auth.NewVerifier(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantPrincipal() auth.Principal {
	return auth.Principal{TenantID: uuid.MustParse("7c9e6679-7425-40de-944b-e07fc1f90ae7"), UserID: "user-1",
		Roles: []string{auth.RoleManager, auth.RoleRep}, Team: "north"}
}

func TestVerifierAcceptsRS256AndES256(t *testing.T) {
	rs := newSigner(t, jwa.RS256(), "rsa-1")
	es := newSigner(t, jwa.ES256(), "ec-1")
	jwks := newVerifier(t, auth.Config{JWKSURL: jwksServer(t, rs, es)})
	for _, tc := range []struct {
		name     string
		verifier auth.Verifier
		signer   signer
	}{
		{"RS256 from JWKS", jwks, rs},
		{"ES256 from JWKS", jwks, es},
		{"RS256 from PEM", newVerifier(t, auth.Config{PublicKeyPEM: rs.publicPEM(t)}), rs},
		{"ES256 from PEM", newVerifier(t, auth.Config{PublicKeyPEM: es.publicPEM(t)}), es},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have, err := tc.verifier.Verify(context.Background(), tc.signer.sign(t, good()))
			if err != nil {
				t.Fatal(err)
			}
			if want := wantPrincipal(); !reflect.DeepEqual(want, have) {
				t.Fatalf("want %+v, have %+v", want, have)
			}
			if !have.HasRole(auth.RoleManager) || have.HasRole(auth.RoleAdmin) {
				t.Fatalf("HasRole disagrees with roles %v", have.Roles)
			}
		})
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifierRejects(t *testing.T) {
	es := newSigner(t, jwa.ES256(), "ec-1")
	rs := newSigner(t, jwa.RS256(), "rsa-1")
	stranger := newSigner(t, jwa.ES256(), "ec-2")
	jwks := newVerifier(t, auth.Config{JWKSURL: jwksServer(t, es, rs)})
	static := newVerifier(t, auth.Config{PublicKeyPEM: rs.publicPEM(t)})

	with := func(f func(*claims)) claims { c := good(); f(&c); return c }
	hs256 := func(secret []byte) string {
		b, err := jwt.Sign(good().token(t), jwt.WithKey(jwa.HS256(), secret))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	payload, _ := json.Marshal(map[string]any{"iss": "https://idp.example", "aud": "rapport", "sub": "user-1",
		"tenant_id": good().tenant, "exp": time.Now().Add(time.Hour).Unix()})

	for _, tc := range []struct {
		name     string
		verifier auth.Verifier
		token    string
	}{
		{"expired", jwks, es.sign(t, with(func(c *claims) { c.exp = time.Now().Add(-time.Hour) }))},
		{"not yet valid", jwks, es.sign(t, with(func(c *claims) { c.nbf = time.Now().Add(time.Hour) }))},
		{"without exp", jwks, es.sign(t, with(func(c *claims) { c.exp = time.Time{} }))},
		{"wrong audience", jwks, es.sign(t, with(func(c *claims) { c.aud = []string{"someone-else"} }))},
		{"wrong issuer", jwks, es.sign(t, with(func(c *claims) { c.iss = "https://evil.example" }))},
		{"missing tenant_id", jwks, es.sign(t, with(func(c *claims) { c.tenant = "" }))},
		{"tenant_id not a uuid", jwks, es.sign(t, with(func(c *claims) { c.tenant = "acme" }))},
		{"missing sub", jwks, es.sign(t, with(func(c *claims) { c.sub = "" }))},
		{"roles not an array", jwks, es.sign(t, with(func(c *claims) { c.roles = "admin" }))},
		{"unknown kid", jwks, stranger.sign(t, good())},
		{"unknown key with static PEM", static, newSigner(t, jwa.RS256(), "rsa-1").sign(t, good())},
		{"HS256", jwks, hs256([]byte("a-shared-secret-of-32-bytes-long!"))},
		{"HS256 keyed with the public key", static, hs256(rs.publicPEM(t))},
		{"alg none", jwks, b64(`{"alg":"none","kid":"ec-1"}`) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."},
		{"ES256 header on an RSA key", static, b64(`{"alg":"ES256"}`) + "." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"},
		{"tampered payload", jwks, func() string {
			parts := strings.Split(es.sign(t, good()), ".")
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}()},
		{"garbage", jwks, "not-a-token"},
		{"empty", jwks, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.verifier.Verify(context.Background(), tc.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if have := apperr.KindOf(err); have != apperr.KindUnauthorized {
				t.Fatalf("kind: want Unauthorized, have %v (%v)", have, err)
			}
			if e, _ := apperr.As(err); e.Message == "" {
				t.Fatalf("no message: %v", err)
			}
		})
	}
}

func TestNewVerifierFailsWhenJWKSIsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: srv.URL}); err == nil {
		t.Fatal("want an error for a JWKS nobody serves")
	}
}

type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func TestMiddleware(t *testing.T) {
	es := newSigner(t, jwa.ES256(), "ec-1")
	v := newVerifier(t, auth.Config{PublicKeyPEM: es.publicPEM(t)})
	var seen auth.Principal
	var seenTenant string
	h := auth.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = auth.PrincipalFrom(r.Context())
		seenTenant = telemetry.TenantID(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct {
		name          string
		authorization string
		wantStatus    int
		wantSlug      string
		wantChallenge string
	}{
		{"no header", "", 401, "unauthenticated", `Bearer realm="rapport"`},
		{"basic", "Basic dXNlcjpwYXNz", 401, "unauthenticated", `Bearer realm="rapport"`},
		{"bearer without token", "Bearer ", 401, "unauthenticated", `Bearer realm="rapport"`},
		{"bad token", "Bearer abc.def.ghi", 401, "invalid-token", `Bearer realm="rapport", error="invalid_token"`},
		{"expired", "Bearer " + es.sign(t, func() claims { c := good(); c.exp = time.Now().Add(-time.Minute); return c }()),
			401, "invalid-token", `Bearer realm="rapport", error="invalid_token"`},
		{"valid", "bearer " + es.sign(t, good()), 204, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen, seenTenant = auth.Principal{}, ""
			r := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status: want %d, have %d (%s)", tc.wantStatus, w.Code, w.Body)
			}
			if have := w.Header().Get("WWW-Authenticate"); have != tc.wantChallenge {
				t.Errorf("WWW-Authenticate: want %q, have %q", tc.wantChallenge, have)
			}
			if tc.wantStatus != 204 {
				if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("content type: %q", ct)
				}
				var p problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
					t.Fatal(err)
				}
				if p.Type != "https://rapport.dev/problems/"+tc.wantSlug || p.Status != tc.wantStatus || p.Detail == "" {
					t.Fatalf("problem: %+v", p)
				}
				return
			}
			if !reflect.DeepEqual(seen, wantPrincipal()) {
				t.Fatalf("principal in context: %+v", seen)
			}
			if seenTenant != wantPrincipal().TenantID.String() {
				t.Fatalf("tenant for logs: %q", seenTenant)
			}
		})
	}
}

func TestDevIssuer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "dev.pem")
	first, err := devauth.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := devauth.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.PublicKeyPEM()) != string(again.PublicKeyPEM()) {
		t.Fatal("the second load made a new key")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	p := auth.Principal{TenantID: uuid.New(), UserID: "dev", Roles: []string{auth.RoleAdmin}, Team: "hq"}
	tok, err := first.Token(p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	jwksURL := func() string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(again.JWKS()) }))
		t.Cleanup(srv.Close)
		return srv.URL
	}()
	for _, tc := range []struct {
		name string
		cfg  auth.Config
	}{
		{"its PEM", auth.Config{PublicKeyPEM: again.PublicKeyPEM(), Issuer: auth.DevIssuerName, Audience: auth.DevAudience}},
		{"its JWKS", auth.Config{JWKSURL: jwksURL, Issuer: auth.DevIssuerName, Audience: auth.DevAudience}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have, err := newVerifier(t, tc.cfg).Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, have) {
				t.Fatalf("want %+v, have %+v", p, have)
			}
		})
	}
	expired, err := first.Token(p, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, auth.Config{PublicKeyPEM: first.PublicKeyPEM(), Issuer: auth.DevIssuerName, Audience: auth.DevAudience})
	if _, err := v.Verify(context.Background(), expired); apperr.KindOf(err) != apperr.KindUnauthorized {
		t.Fatalf("expired dev token: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	es := newSigner(t, jwa.ES256(), "k")
	pemFile := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pemFile, es.publicPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    auth.Config
		wantErr string
	}{
		{"neither key source", nil, auth.Config{}, "AUTH_JWKS_URL"},
		{"jwks with defaults", map[string]string{"AUTH_JWKS_URL": "https://idp.example/jwks"},
			auth.Config{JWKSURL: "https://idp.example/jwks", Issuer: "rapport-dev", Audience: "rapport", MaxTokenLifetime: 24 * time.Hour}, ""},
		{"maximum lifetime", map[string]string{"AUTH_JWKS_URL": "https://idp.example/jwks", "AUTH_MAX_TOKEN_LIFETIME": "90m"},
			auth.Config{JWKSURL: "https://idp.example/jwks", Issuer: "rapport-dev", Audience: "rapport", MaxTokenLifetime: 90 * time.Minute}, ""},
		{"maximum lifetime not a duration", map[string]string{"AUTH_JWKS_URL": "https://idp.example/jwks", "AUTH_MAX_TOKEN_LIFETIME": "24"},
			auth.Config{}, "AUTH_MAX_TOKEN_LIFETIME"},
		{"maximum lifetime not positive", map[string]string{"AUTH_JWKS_URL": "https://idp.example/jwks", "AUTH_MAX_TOKEN_LIFETIME": "-1h"},
			auth.Config{}, "AUTH_MAX_TOKEN_LIFETIME"},
		{"jwks not a URL", map[string]string{"AUTH_JWKS_URL": "idp"}, auth.Config{}, "AUTH_JWKS_URL"},
		{"pem file", map[string]string{"AUTH_PUBLIC_KEY_FILE": pemFile, "AUTH_ISSUER": "https://idp", "AUTH_AUDIENCE": "crm"},
			auth.Config{PublicKeyPEM: es.publicPEM(t), Issuer: "https://idp", Audience: "crm", MaxTokenLifetime: 24 * time.Hour}, ""},
		{"missing pem file", map[string]string{"AUTH_PUBLIC_KEY_FILE": filepath.Join(dir, "nope")}, auth.Config{}, "AUTH_PUBLIC_KEY_FILE"},
		{"junk pem file", map[string]string{"AUTH_PUBLIC_KEY_FILE": junk}, auth.Config{}, "AUTH_PUBLIC_KEY_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"AUTH_JWKS_URL", "AUTH_PUBLIC_KEY_FILE", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_MAX_TOKEN_LIFETIME"} {
				t.Setenv(k, tc.env[k])
			}
			have, err := auth.ConfigFromEnv()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error naming %s, have %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.want, have) {
				t.Fatalf("want %+v, have %+v", tc.want, have)
			}
		})
	}
}
