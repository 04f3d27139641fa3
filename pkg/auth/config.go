package auth

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Defaults for the dev issuer and for verifiers configured without
// AUTH_ISSUER and AUTH_AUDIENCE.
const (
	DevIssuerName = "rapport-dev"
	DevAudience   = "rapport"
)

// Config says where the verification keys come from and which tokens are
// for us. Exactly one of JWKSURL and PublicKeyPEM is needed; JWKSURL wins
// when both are set.
type Config struct {
	JWKSURL      string
	PublicKeyPEM []byte
	Issuer       string
	Audience     string
}

// ConfigFromEnv reads AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE (a PEM public
// key), AUTH_ISSUER (default rapport-dev) and AUTH_AUDIENCE (default
// rapport). Errors name the variable at fault.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		JWKSURL:  strings.TrimSpace(os.Getenv("AUTH_JWKS_URL")),
		Issuer:   envOr("AUTH_ISSUER", DevIssuerName),
		Audience: envOr("AUTH_AUDIENCE", DevAudience),
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

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
