package bff

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// DefaultSessionTTL is how long a browser session lasts when WEB_SESSION_TTL
// is not set: a working day and then some.
const DefaultSessionTTL = 12 * time.Hour

// Config is how people sign in to the web application.
type Config struct {
	// Issuer is the OpenID provider (WEB_OIDC_ISSUER); empty turns OIDC off.
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// PublicURL is where browsers reach the gateway; the provider sends
	// them back to PublicURL/auth/callback.
	PublicURL *url.URL
	// SessionKeys seal the session cookie (the first seals, all open).
	SessionKeys [][]byte
	SessionTTL  time.Duration
	// DevSigninURL is local mode's token signer (make run serves it on
	// loopback): with it the gateway offers a sign-in page that asks only
	// for tenant, role and user. The dev issuer's key stays with make run;
	// the gateway accepts the URL only beside AUTH_ISSUER=rapport-dev.
	DevSigninURL string
}

// Enabled reports whether anyone can sign in.
func (c Config) Enabled() bool { return c.Issuer != "" || c.DevSigninURL != "" }

// ConfigFromEnv reads WEB_OIDC_ISSUER, WEB_OIDC_CLIENT_ID,
// WEB_OIDC_CLIENT_SECRET, WEB_OIDC_SCOPES, WEB_PUBLIC_URL, WEB_SESSION_KEYS
// (base64 32-byte keys, comma-separated, newest first), WEB_SESSION_TTL and
// WEB_DEV_SIGNIN_URL. Errors name the variable at fault.
func ConfigFromEnv(a auth.Config) (Config, error) {
	c := Config{
		Issuer:       strings.TrimSpace(os.Getenv("WEB_OIDC_ISSUER")),
		ClientID:     strings.TrimSpace(os.Getenv("WEB_OIDC_CLIENT_ID")),
		ClientSecret: os.Getenv("WEB_OIDC_CLIENT_SECRET"),
		Scopes:       strings.Fields(strings.ReplaceAll(os.Getenv("WEB_OIDC_SCOPES"), ",", " ")),
		DevSigninURL: strings.TrimSpace(os.Getenv("WEB_DEV_SIGNIN_URL")),
		SessionTTL:   DefaultSessionTTL,
	}
	if v := strings.TrimSpace(os.Getenv("WEB_SESSION_TTL")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("WEB_SESSION_TTL must be a positive duration such as 12h, got %q", v)
		}
		c.SessionTTL = d
	}
	for i, k := range strings.Split(os.Getenv("WEB_SESSION_KEYS"), ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) != KeySize {
			return c, fmt.Errorf("WEB_SESSION_KEYS: key %d must be %d random bytes in base64 (openssl rand -base64 32)", i+1, KeySize)
		}
		c.SessionKeys = append(c.SessionKeys, key)
	}
	if v := strings.TrimSpace(os.Getenv("WEB_PUBLIC_URL")); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return c, fmt.Errorf("WEB_PUBLIC_URL must be the gateway's origin such as https://crm.example.com, got %q", v)
		}
		if u.Scheme == "http" && !loopback(u.Hostname()) {
			return c, fmt.Errorf("WEB_PUBLIC_URL must be https (session cookies are Secure), but for a loopback address; got %q", v)
		}
		u.Path = ""
		c.PublicURL = u
	}
	if !c.Enabled() {
		return c, nil
	}
	if len(c.SessionKeys) == 0 {
		return c, fmt.Errorf("WEB_SESSION_KEYS is required when WEB_OIDC_ISSUER or WEB_DEV_SIGNIN_URL is set (openssl rand -base64 32)")
	}
	if c.Issuer != "" {
		if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
			return c, fmt.Errorf("WEB_OIDC_ISSUER must be the provider's https URL (http only on a loopback address), got %q", c.Issuer)
		}
		if c.ClientID == "" {
			return c, fmt.Errorf("WEB_OIDC_CLIENT_ID is required with WEB_OIDC_ISSUER")
		}
		if c.PublicURL == nil {
			return c, fmt.Errorf("WEB_PUBLIC_URL is required with WEB_OIDC_ISSUER: the provider sends browsers back to WEB_PUBLIC_URL/auth/callback")
		}
		if len(c.Scopes) == 0 {
			c.Scopes = []string{"openid", "profile", "email", "offline_access"}
		}
	}
	if c.DevSigninURL != "" {
		if a.Issuer != auth.DevIssuerName {
			return c, fmt.Errorf("WEB_DEV_SIGNIN_URL is for make run only: the services must trust the dev issuer (AUTH_ISSUER=%s), not %q", auth.DevIssuerName, a.Issuer)
		}
		if u, err := url.Parse(c.DevSigninURL); err != nil || u.Scheme != "http" || !loopback(u.Hostname()) {
			return c, fmt.Errorf("WEB_DEV_SIGNIN_URL must be make run's signer on a loopback address such as http://127.0.0.1:40000/token, got %q", c.DevSigninURL)
		}
	}
	return c, nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
