package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

func TestVerifiedTokensAreRememberedUntilTheyExpire(t *testing.T) {
	ctx := context.Background()
	iss := newTestSigner(t)
	v, err := NewVerifier(ctx, Config{PublicKeyPEM: iss.PublicKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	cv := v.(*cachingVerifier)
	now := time.Now()
	cv.now = func() time.Time { return now }
	want := Principal{TenantID: uuid.New(), UserID: "u", Roles: []string{RoleRep}}
	tok, err := iss.Token(want, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if have, err := v.Verify(ctx, tok); err != nil || have.UserID != "u" {
		t.Fatalf("have %+v, %v", have, err)
	}
	// With the keys gone, the remembered token still verifies...
	cv.next.keys = func(context.Context, string) (crypto.PublicKey, error) { return nil, errors.New("no keys") }
	if have, err := v.Verify(ctx, tok); err != nil || have.TenantID != want.TenantID {
		t.Fatalf("cached token: have %+v, %v", have, err)
	}
	// ...a token never seen does not...
	other, _ := iss.Token(Principal{TenantID: uuid.New(), UserID: "x"}, time.Minute)
	if _, err := v.Verify(ctx, other); err == nil {
		t.Fatal("an unseen token was accepted without a key")
	}
	// ...and the remembered one is forgotten once it expires.
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(ctx, tok); err == nil {
		t.Fatal("an expired token was served from the cache")
	}
}

func TestRememberedSaysWhatTheCacheVouchesFor(t *testing.T) {
	ctx := context.Background()
	iss := newTestSigner(t)
	jwt, err := NewVerifier(ctx, Config{PublicKeyPEM: iss.PublicKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	key := APIKeyPrefix + "0123456789abcdef_secret"
	revoked := false
	keys := VerifierFunc(func(_ context.Context, token string) (Principal, error) {
		if token != key || revoked {
			return Principal{}, invalid("invalid API key", nil)
		}
		return Principal{UserID: "apikey:k"}, nil
	})
	v := WithAPIKeys(jwt, keys)
	tok, err := iss.Token(Principal{TenantID: uuid.New(), UserID: "u"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if Remembered(v, tok) {
		t.Fatal("a token never verified is remembered")
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if !Remembered(v, tok) || !Remembered(jwt, tok) {
		t.Fatal("a verified token is not remembered")
	}
	// An API key costs a hash compare, not a signature check: one the key
	// verifier accepts counts as remembered, asked afresh every time, so a
	// revoked key is not.
	if !Remembered(v, key) {
		t.Fatal("a valid API key is not remembered")
	}
	if Remembered(v, key+"x") {
		t.Fatal("an unknown API key is remembered")
	}
	revoked = true
	if Remembered(v, key) {
		t.Fatal("a revoked API key is remembered")
	}
	if Remembered(keys, tok) {
		t.Fatal("a verifier without a cache remembers")
	}
	v.(*dispatcher).jwt.(*cachingVerifier).now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if Remembered(v, tok) {
		t.Fatal("an expired token is remembered")
	}
}

// testSigner signs tokens as an identity provider would, for the tests
// inside the package (devauth, which does so for the others, imports it).
type testSigner struct {
	key *ecdsa.PrivateKey
	pem []byte
}

func newTestSigner(t *testing.T) *testSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func (s *testSigner) PublicKeyPEM() []byte { return s.pem }

func (s *testSigner) Token(p Principal, ttl time.Duration) (string, error) {
	now := time.Now().Truncate(time.Second)
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	tok, err := jwt.NewBuilder().Issuer(DevIssuerName).Audience([]string{DevAudience}).Subject(p.UserID).
		IssuedAt(now).Expiration(now.Add(ttl)).Claim("tenant_id", p.TenantID.String()).Claim("roles", roles).Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), s.key))
	return string(signed), err
}
