package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
)

// FuzzVerify feeds the verifier valid, malformed and mutated compact tokens:
// it must never panic, must refuse with a 401 problem, and must accept only
// what the trusted key really signed (checked here with crypto/ecdsa alone).
func FuzzVerify(f *testing.F) {
	es := newSigner(f, jwa.ES256(), "ec-1")
	stranger := newSigner(f, jwa.ES256(), "ec-1")
	v := newVerifier(f, auth.Config{PublicKeyPEM: es.publicPEM(f)})
	pub := es.priv.Public().(*ecdsa.PublicKey)

	valid := es.sign(f, good())
	parts := strings.Split(valid, ".")
	hs256, err := jwt.Sign(good().token(f), jwt.WithKey(jwa.HS256(), es.publicPEM(f)))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	for _, seed := range []string{
		valid,
		es.signRaw(f, rawClaims(f, map[string]any{"iat": now.Unix(), "nbf": now.Unix()})),
		es.signRaw(f, rawClaims(f, map[string]any{"exp": float64(now.Add(time.Hour).Unix()) + 0.25})),
		es.signRaw(f, rawClaims(f, map[string]any{"exp": "4102444800"})),
		es.signRaw(f, rawClaims(f, map[string]any{"iat": now.Unix(), "exp": now.Add(100 * 365 * 24 * time.Hour).Unix()})),
		es.signRaw(f, rawClaims(f, map[string]any{"exp": now.Add(-time.Hour).Unix()})),
		es.signRaw(f, []byte(`{"exp":1e400}`)),
		es.signRaw(f, []byte(`[]`)),
		stranger.sign(f, good()),
		string(hs256),
		parts[0] + "." + parts[1] + "." + parts[2] + "==",
		parts[0] + "." + parts[1] + ".",
		b64(`{"alg":"none"}`) + "." + parts[1] + ".",
		b64(`{"alg":"ES256","crit":["x"]}`) + "." + parts[1] + "." + parts[2],
		"a.b.c", "..", "", "not-a-token", "rpk_0123456789abcdef_x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindUnauthorized || e.Message == "" {
				t.Fatalf("refused without a 401 problem: %v", err)
			}
			return
		}
		if !signedBy(pub, token) {
			t.Fatalf("accepted a token the key did not sign: %q (%+v)", token, p)
		}
	})
}

// signedBy verifies token's ES256 signature with pub, independently of jwx,
// on the canonical base64url spelling only.
func signedBy(pub *ecdsa.PublicKey, token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || strings.ContainsAny(token, "\r\n") {
		return false
	}
	strict := base64.RawURLEncoding.Strict()
	header, err := strict.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(header, &h) != nil || h.Alg != "ES256" {
		return false
	}
	if _, err := strict.DecodeString(parts[1]); err != nil {
		return false
	}
	sig, err := strict.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest[:], r, s)
}
