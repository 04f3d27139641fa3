package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
)

// signRaw signs payload as it is, so a test controls every byte of the claims.
func (s signer) signRaw(t testing.TB, payload []byte, headers ...jws.Headers) string {
	t.Helper()
	var opts []jws.WithKeySuboption
	for _, h := range headers {
		opts = append(opts, jws.WithProtectedHeaders(h))
	}
	b, err := jws.Sign(payload, jws.WithKey(s.alg, s.key, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawClaims are good()'s claims as JSON values; tests replace some.
func rawClaims(t testing.TB, replace map[string]any) []byte {
	t.Helper()
	c := good()
	m := map[string]any{"iss": c.iss, "aud": c.aud, "sub": c.sub, "tenant_id": c.tenant, "roles": c.roles,
		"team": c.team, "exp": c.exp.Unix()}
	for k, v := range replace {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantRefused checks that v refuses token with a 401 invalid-token whose
// message contains every one of words.
func wantRefused(t *testing.T, v auth.Verifier, token string, words ...string) {
	t.Helper()
	p, err := v.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("accepted: %+v", p)
	}
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindUnauthorized || e.Slug != "invalid-token" {
		t.Fatalf("want a 401 invalid-token, have %v", err)
	}
	for _, w := range words {
		if !strings.Contains(e.Message, w) {
			t.Fatalf("the message %q does not name %q", e.Message, w)
		}
	}
}

func wantAccepted(t *testing.T, v auth.Verifier, token string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("refused: %v", err)
	}
}

// RFC 7519 §2: exp, nbf and iat are NumericDates, JSON numbers of seconds.
func TestVerifierRequiresNumericDates(t *testing.T) {
	es := newSigner(t, jwa.ES256(), "ec-1")
	v := newVerifier(t, auth.Config{PublicKeyPEM: es.publicPEM(t)})
	now := time.Now()
	exp, past := now.Add(time.Hour).Unix(), now.Add(-time.Minute).Unix()

	wantAccepted(t, v, es.signRaw(t, rawClaims(t, map[string]any{"exp": float64(exp) + 0.5, "nbf": past, "iat": past})))
	for _, tc := range []struct {
		name  string
		claim string
		value any
	}{
		{"exp as a numeric string", "exp", strconv.FormatInt(exp, 10)},
		{"exp as a date string", "exp", time.Unix(exp, 0).UTC().Format(time.RFC3339)},
		{"exp as true", "exp", true},
		{"exp as an object", "exp", map[string]any{"seconds": exp}},
		{"nbf as a string", "nbf", strconv.FormatInt(past, 10)},
		{"iat as a string", "iat", strconv.FormatInt(past, 10)},
		{"iat as an array", "iat", []any{past}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefused(t, v, es.signRaw(t, rawClaims(t, map[string]any{tc.claim: tc.value})), tc.claim, "NumericDate")
		})
	}
	// JSON null is no number either.
	payload := strings.Replace(string(rawClaims(t, nil)), `"exp":`, `"nbf":null,"exp":`, 1)
	wantRefused(t, v, es.signRaw(t, []byte(payload)), "nbf", "NumericDate")
}

// RFC 7515 §2: each segment is base64url without padding, nothing else.
func TestVerifierRequiresUnpaddedBase64url(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256(), jwa.RS256()} {
		t.Run(alg.String(), func(t *testing.T) {
			s := newSigner(t, alg, "k-1")
			v := newVerifier(t, auth.Config{PublicKeyPEM: s.publicPEM(t)})

			// A payload whose encoding needs padding, and a header likewise.
			payload := rawClaims(t, nil)
			for len(payload)%3 == 0 {
				payload = append(payload, ' ')
			}
			var tok string
			for pad := ""; ; pad += "x" {
				h := jws.NewHeaders()
				if err := h.Set("x", pad); err != nil {
					t.Fatal(err)
				}
				// The signature must also hold a character the standard
				// alphabet spells otherwise.
				tok = s.signRaw(t, payload, h)
				if parts := strings.Split(tok, "."); len(parts[0])%4 != 0 && strings.ContainsAny(parts[2], "-_") {
					break
				}
			}
			wantAccepted(t, v, tok)
			parts := strings.Split(tok, ".")
			padded := func(seg string) string { return seg + strings.Repeat("=", (4-len(seg)%4)%4) }
			with := func(i int, seg string) string {
				p := append([]string(nil), parts...)
				p[i] = seg
				return strings.Join(p, ".")
			}
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name, token string
				words       []string
			}{
				{"padded signature", with(2, padded(parts[2])), []string{"signature", "padding"}},
				{"padded payload", with(1, padded(parts[1])), []string{"payload", "padding"}},
				{"padded header", with(0, padded(parts[0])), []string{"header", "padding"}},
				{"standard alphabet signature", with(2, base64.RawStdEncoding.EncodeToString(sig)), nil},
				{"signature with a line break", with(2, parts[2][:40]+"\n"+parts[2][40:]), []string{"signature", "base64url"}},
				{"signature with trailing bits set", with(2, flipTrailingBit(parts[2])), []string{"signature", "base64url"}},
				{"empty signature", with(2, ""), []string{"signature"}},
				{"empty payload", with(1, ""), []string{"payload"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if tc.token == tok {
						t.Fatalf("the variant %s did not change the token", tc.name)
					}
					wantRefused(t, v, tc.token, tc.words...)
				})
			}
		})
	}
}

// flipTrailingBit changes the unused low bits of seg's last character, which
// lenient decoders ignore: the same signature bytes under another spelling.
func flipTrailingBit(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last^1])
}

func TestVerifierRefusesLongLifetimes(t *testing.T) {
	es := newSigner(t, jwa.ES256(), "ec-1")
	byDefault := newVerifier(t, auth.Config{PublicKeyPEM: es.publicPEM(t)})
	hour := newVerifier(t, auth.Config{PublicKeyPEM: es.publicPEM(t), MaxTokenLifetime: time.Hour})
	now := time.Now().Truncate(time.Second)
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	century := 100 * 365 * 24 * time.Hour

	for _, tc := range []struct {
		name     string
		verifier auth.Verifier
		claims   map[string]any
		refused  bool
	}{
		{"a century with iat", byDefault, map[string]any{"iat": at(0), "exp": at(century)}, true},
		{"a century without iat", byDefault, map[string]any{"exp": at(century)}, true},
		{"25 hours without iat", byDefault, map[string]any{"exp": at(25 * time.Hour)}, true},
		{"issued 30 hours ago, an hour left", byDefault, map[string]any{"iat": at(-30 * time.Hour), "exp": at(time.Hour)}, true},
		{"exactly 24 hours", byDefault, map[string]any{"iat": at(0), "exp": at(24 * time.Hour)}, false},
		{"23 hours without iat", byDefault, map[string]any{"exp": at(23 * time.Hour)}, false},
		{"2 hours under a maximum of 1", hour, map[string]any{"iat": at(0), "exp": at(2 * time.Hour)}, true},
		{"50 minutes under a maximum of 1 hour", hour, map[string]any{"iat": at(0), "exp": at(50 * time.Minute)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := es.signRaw(t, rawClaims(t, tc.claims))
			if !tc.refused {
				wantAccepted(t, tc.verifier, tok)
				return
			}
			max := "24h0m0s"
			if tc.verifier == hour {
				max = "1h0m0s"
			}
			wantRefused(t, tc.verifier, tok, "lifetime", max)
		})
	}
}

// Dev tokens stay under the maximum; a longer one is refused like any other.
func TestDevIssuerTokensAndTheMaximumLifetime(t *testing.T) {
	iss, err := devauth.LoadOrCreate(t.TempDir() + "/dev.pem")
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, auth.Config{PublicKeyPEM: iss.PublicKeyPEM(), Issuer: auth.DevIssuerName, Audience: auth.DevAudience})
	p := wantPrincipal()
	for _, ttl := range []time.Duration{12 * time.Hour, auth.DefaultMaxTokenLifetime} {
		tok, err := iss.Token(p, ttl)
		if err != nil {
			t.Fatal(err)
		}
		wantAccepted(t, v, tok)
	}
	tok, err := iss.Token(p, auth.DefaultMaxTokenLifetime+time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, v, tok, "lifetime")
}
