package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Verifier turns a bearer token into the principal it vouches for. Its
// errors are apperr KindUnauthorized (KindUnavailable when the issuer's keys
// cannot be fetched).
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

const (
	// maxTokenLen bounds what is parsed at all; real tokens are ~1 KiB.
	maxTokenLen = 16 << 10
	// clockSkew is tolerated on exp and nbf between us and the issuer.
	clockSkew = 30 * time.Second
	// jwksWait bounds the first JWKS fetch at start-up.
	jwksWait = 10 * time.Second
	// rotationRefresh is the least time between refetches of the JWKS that a
	// token with an unknown key id may trigger.
	rotationRefresh = 30 * time.Second
)

// NewVerifier builds the verifier cfg describes: with a JWKSURL it fetches
// the key set once (failing if it cannot within a few seconds) and keeps it
// fresh in the background until ctx ends; otherwise it uses PublicKeyPEM.
// Only RS256 and ES256 signatures are accepted; exp is required and exp,
// nbf, iat, iss and aud are checked, and so is the token's lifetime.
func NewVerifier(ctx context.Context, cfg Config) (Verifier, error) {
	v := &verifier{issuer: cfg.Issuer, audience: cfg.Audience, maxLifetime: cfg.MaxTokenLifetime}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxTokenLifetime
	}
	if v.maxLifetime < 0 {
		return nil, fmt.Errorf("auth: the maximum token lifetime %s is not positive", v.maxLifetime)
	}
	if v.issuer == "" {
		v.issuer = DevIssuerName
	}
	if v.audience == "" {
		v.audience = DevAudience
	}
	switch {
	case cfg.JWKSURL != "":
		keys, err := newJWKSKeys(ctx, cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		v.keys = keys.key
	case len(cfg.PublicKeyPEM) > 0:
		pub, err := parsePublicKeyPEM(cfg.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: public key: %w", err)
		}
		// One static key verifies every token, whatever kid it names.
		v.keys = func(context.Context, string) (crypto.PublicKey, error) { return pub, nil }
	default:
		return nil, errors.New("auth: a JWKS URL or a public key is required")
	}
	return &cachingVerifier{next: v, now: time.Now}, nil
}

type verifier struct {
	issuer, audience string
	maxLifetime      time.Duration
	keys             func(ctx context.Context, kid string) (crypto.PublicKey, error)
}

func invalid(message string, cause error) error {
	return &apperr.Error{Kind: apperr.KindUnauthorized, Slug: "invalid-token", Message: message, Cause: cause}
}

// verify checks token and returns its principal and its expiry.
func (v *verifier) verify(ctx context.Context, token string) (Principal, time.Time, error) {
	p, tok, err := v.parse(ctx, token)
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	exp, _ := tok.Expiration()
	return p, exp, nil
}

func (v *verifier) parse(ctx context.Context, token string) (Principal, jwt.Token, error) {
	if len(token) > maxTokenLen || strings.Count(token, ".") != 2 {
		return Principal{}, nil, invalid("the bearer token is not a compact JWT", nil)
	}
	payload, err := strictPayload(token)
	if err != nil {
		return Principal{}, nil, err
	}
	if err := checkNumericDates(payload); err != nil {
		return Principal{}, nil, err
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return Principal{}, nil, invalid("the bearer token is not a signed JWT", err)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg, _ := hdr.Algorithm()
	if alg != jwa.RS256() && alg != jwa.ES256() {
		return Principal{}, nil, invalid(fmt.Sprintf("the token is signed with %q; only RS256 and ES256 are accepted", alg.String()), nil)
	}
	kid, _ := hdr.KeyID()
	key, err := v.keys(ctx, kid)
	if err != nil {
		return Principal{}, nil, err
	}
	if !keyFits(key, alg) {
		return Principal{}, nil, invalid(fmt.Sprintf("the token's %s signature does not match its key's type", alg.String()), nil)
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKey(alg, key),
		jwt.WithValidate(true),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	)
	if err != nil {
		return Principal{}, nil, invalid(describe(err), err)
	}
	exp, _ := tok.Expiration()
	iat, _ := tok.IssuedAt()
	if err := checkLifetime(exp, iat, time.Now(), v.maxLifetime); err != nil {
		return Principal{}, nil, err
	}
	p, err := principalOf(tok)
	return p, tok, err
}

// describe names what is wrong with a token jwt.Parse refused.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "the token has expired"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return "the token is not valid yet"
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return "the token's iat is in the future"
	case errors.Is(err, jwt.InvalidIssuerError()):
		return "the token was not issued by the trusted issuer"
	case errors.Is(err, jwt.InvalidAudienceError()):
		return "the token is not meant for this API (audience)"
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return "the token lacks a required claim (exp)"
	case errors.Is(err, jwt.ValidateError()):
		return "the token's claims are not valid"
	default:
		return "the token's signature does not verify"
	}
}

func principalOf(tok jwt.Token) (Principal, error) {
	var p Principal
	sub, _ := tok.Subject()
	if sub == "" {
		return p, invalid("the token has no subject (sub)", nil)
	}
	p.UserID = sub
	var tenant any
	if err := tok.Get("tenant_id", &tenant); err != nil {
		return p, invalid("the token has no tenant_id claim", nil)
	}
	s, _ := tenant.(string)
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil {
		return p, invalid("the token's tenant_id is not a UUID", err)
	}
	p.TenantID = id
	var roles any
	if tok.Get("roles", &roles) == nil {
		list, ok := roles.([]any)
		if !ok {
			return p, invalid("the token's roles claim is not an array of strings", nil)
		}
		for _, r := range list {
			s, ok := r.(string)
			if !ok {
				return p, invalid("the token's roles claim is not an array of strings", nil)
			}
			p.Roles = append(p.Roles, s)
		}
	}
	var team any
	if tok.Get("team", &team) == nil {
		s, ok := team.(string)
		if !ok {
			return p, invalid("the token's team claim is not a string", nil)
		}
		p.Team = s
	}
	return p, nil
}

// keyFits says whether key may verify alg: RSA for RS256, P-256 for ES256.
func keyFits(key crypto.PublicKey, alg jwa.SignatureAlgorithm) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == jwa.RS256()
	case *ecdsa.PublicKey:
		return alg == jwa.ES256() && k.Curve == elliptic.P256()
	}
	return false
}

// parsePublicKeyPEM reads an RSA (at least 2048 bits) or P-256 public key
// from a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	return checkPublicKey(key)
}

func checkPublicKey(key any) (crypto.PublicKey, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits is too small; 2048 at least", k.N.BitLen())
		}
		return k, nil
	case *rsa.PrivateKey:
		return checkPublicKey(&k.PublicKey)
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("EC key is not on P-256")
		}
		return k, nil
	case *ecdsa.PrivateKey:
		return checkPublicKey(&k.PublicKey)
	}
	return nil, fmt.Errorf("a %T key cannot verify RS256 or ES256", key)
}

// jwksKeys serves keys from an issuer's JWKS, refetched in the background
// and, rate-limited, when a token names a key id not in it (key rotation).
type jwksKeys struct {
	cache *jwk.Cache
	url   string

	mu        sync.Mutex
	refreshed time.Time
}

func newJWKSKeys(ctx context.Context, url string) (*jwksKeys, error) {
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS cache: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, jwksWait)
	defer cancel()
	if err := cache.Register(wait, url, jwk.WithMinInterval(time.Minute), jwk.WithMaxInterval(time.Hour)); err != nil {
		_ = cache.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("auth: fetch JWKS %s: %w", url, err)
	}
	return &jwksKeys{cache: cache, url: url, refreshed: time.Now()}, nil
}

func (j *jwksKeys) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	set, err := j.cache.Lookup(ctx, j.url)
	if err != nil {
		return nil, &apperr.Error{Kind: apperr.KindUnavailable, Slug: "auth-keys-unavailable",
			Message: "the token issuer's keys are unavailable; try again shortly", Cause: err}
	}
	k, ok := find(set, kid)
	if !ok && kid != "" && j.mayRefresh() {
		if fresh, err := j.cache.Refresh(ctx, j.url); err == nil {
			k, ok = find(fresh, kid)
		}
	}
	if !ok {
		if kid == "" {
			return nil, invalid("the token names no key (kid) and the issuer has several", nil)
		}
		return nil, invalid(fmt.Sprintf("the token's key %q is not among the issuer's keys", kid), nil)
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, invalid("the issuer's key for this token is unusable", err)
	}
	pub, err := checkPublicKey(raw)
	if err != nil {
		return nil, invalid("the issuer's key for this token is unusable", err)
	}
	return pub, nil
}

// find picks the key kid names; a token without kid may use a lone key.
func find(set jwk.Set, kid string) (jwk.Key, bool) {
	if kid == "" {
		if set.Len() == 1 {
			return set.Key(0)
		}
		return nil, false
	}
	k, ok := set.LookupKeyID(kid)
	if !ok {
		return nil, false
	}
	if use, ok := k.KeyUsage(); ok && use != "" && use != "sig" {
		return nil, false
	}
	return k, true
}

func (j *jwksKeys) mayRefresh() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if time.Since(j.refreshed) < rotationRefresh {
		return false
	}
	j.refreshed = time.Now()
	return true
}
