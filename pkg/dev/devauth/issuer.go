// Package devauth signs tokens for local mode and tests; nothing in
// production uses it.
package devauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// Issuer signs tokens for local mode (make run, tests) with an ES256 key
// kept in a PEM file, so tokens stay valid across restarts. Verifiers trust
// it through its PublicKeyPEM or JWKS with issuer auth.DevIssuerName and
// audience auth.DevAudience.
type Issuer struct {
	key    jwk.Key // private, with kid and alg
	public jwk.Key
	pem    []byte
}

// LoadOrCreate loads the P-256 private key at path, creating it
// (mode 0600) the first time. Concurrent first calls agree on one key.
func LoadOrCreate(path string) (*Issuer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: dev issuer key %s: no PRIVATE KEY PEM block", path)
	}
	raw, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key %s: %w", path, err)
	}
	priv, ok := raw.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("auth: dev issuer key %s: not a P-256 key", path)
	}
	return newIssuer(priv)
}

// createKeyFile writes a new key beside path and links it into place, so
// that a concurrent creator's key, if it won, is the one both use.
func createKeyFile(path string) ([]byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".devkey-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	return data, nil
}

func newIssuer(priv *ecdsa.PrivateKey) (*Issuer, error) {
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		return nil, err
	}
	public, err := jwk.PublicKeyOf(key)
	if err != nil {
		return nil, err
	}
	if err := public.Set(jwk.KeyUsageKey, "sig"); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, public: public, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, nil
}

// Token signs a token for p valid for ttl: sub, tenant_id, roles, team,
// iss auth.DevIssuerName, aud auth.DevAudience, iat, nbf, exp, jti; kid in the header.
func (d *Issuer) Token(p auth.Principal, ttl time.Duration) (string, error) {
	now := time.Now().Truncate(time.Second)
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	b := jwt.NewBuilder().
		Issuer(auth.DevIssuerName).
		Audience([]string{auth.DevAudience}).
		Subject(p.UserID).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(ttl)).
		JwtID(uuid.NewString()).
		Claim("tenant_id", p.TenantID.String()).
		Claim("roles", roles)
	if p.Team != "" {
		b = b.Claim("team", p.Team)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("auth: build dev token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), d.key))
	if err != nil {
		return "", fmt.Errorf("auth: sign dev token: %w", err)
	}
	return string(signed), nil
}

// PublicKeyPEM is the issuer's public key as a PKIX PEM block, for
// AUTH_PUBLIC_KEY_FILE.
func (d *Issuer) PublicKeyPEM() []byte { return append([]byte(nil), d.pem...) }

// JWKS is the issuer's public key set as served at a JWKS URL.
func (d *Issuer) JWKS() []byte {
	b, err := json.Marshal(map[string]any{"keys": []jwk.Key{d.public}})
	if err != nil {
		// Marshalling a public EC key cannot fail.
		panic("auth: marshal dev JWKS: " + err.Error())
	}
	return b
}
