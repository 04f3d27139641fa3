package auth

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults for the dev issuer and for verifiers configured without
// AUTH_ISSUER and AUTH_AUDIENCE.
const (
	DevIssuerName = "rapport-dev"
	DevAudience   = "rapport"
	// DefaultMaxTokenLifetime bounds a user token's lifetime (exp − iat) when
	// AUTH_MAX_TOKEN_LIFETIME is not set.
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// Config says where the verification keys come from and which tokens are
// for us. Exactly one of JWKSURL and PublicKeyPEM is needed; JWKSURL wins
// when both are set.
type Config struct {
	JWKSURL      string
	PublicKeyPEM []byte
	Issuer       string
	Audience     string
	// MaxTokenLifetime refuses JWTs that live longer (exp − iat, or exp −
	// now without iat); zero means DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration
}

// ConfigFromEnv reads AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE (a PEM public
// key), AUTH_ISSUER (default rapport-dev), AUTH_AUDIENCE (default rapport)
// and AUTH_MAX_TOKEN_LIFETIME. Errors name the variable at fault.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		JWKSURL:  strings.TrimSpace(os.Getenv("AUTH_JWKS_URL")),
		Issuer:   envOr("AUTH_ISSUER", DevIssuerName),
		Audience: envOr("AUTH_AUDIENCE", DevAudience),
	}
	var err error
	if cfg.MaxTokenLifetime, err = MaxTokenLifetimeFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return cfg, fmt.Errorf("AUTH_JWKS_URL must be an http(s) URL, got %q", cfg.JWKSURL)
		}
		return cfg, nil
	}
	file := strings.TrimSpace(os.Getenv("AUTH_PUBLIC_KEY_FILE"))
	if file == "" {
		return cfg, errors.New("AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE must be set to verify tokens")
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return cfg, fmt.Errorf("AUTH_PUBLIC_KEY_FILE: %w", err)
	}
	if _, err := parsePublicKeyPEM(pem); err != nil {
		return cfg, fmt.Errorf("AUTH_PUBLIC_KEY_FILE %s: %w", file, err)
	}
	cfg.PublicKeyPEM = pem
	return cfg, nil
}

// MaxTokenLifetimeFromEnv reads AUTH_MAX_TOKEN_LIFETIME, a Go duration such
// as 24h or 90m (DefaultMaxTokenLifetime when unset).
func MaxTokenLifetimeFromEnv() (time.Duration, error) {
	return ParseMaxTokenLifetime(os.Getenv("AUTH_MAX_TOKEN_LIFETIME"))
}

// ParseMaxTokenLifetime reads a value of AUTH_MAX_TOKEN_LIFETIME; errors
// name the variable.
func ParseMaxTokenLifetime(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultMaxTokenLifetime, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("AUTH_MAX_TOKEN_LIFETIME must be a positive duration such as 24h or 90m, got %q", v)
	}
	return d, nil
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
