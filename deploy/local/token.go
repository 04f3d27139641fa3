package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// roles a dev token may carry.
var roles = []string{auth.RoleAdmin, auth.RoleManager, auth.RoleRep, auth.RoleAnalyst, auth.RoleViewer}

// defaultTeam is the team of every dev token unless -team says otherwise.
const defaultTeam = "team-1"

// tokenRequest is what a dev token says about its bearer.
type tokenRequest struct {
	Tenant, Role, User, Team string
	TTL                      time.Duration
	// MaxTTL is the longest lifetime the services accept
	// (AUTH_MAX_TOKEN_LIFETIME); zero means auth.DefaultMaxTokenLifetime.
	MaxTTL time.Duration
}

// defaultUser is the user of a dev token when none is given: admin@demo.
func defaultUser(role, tenant string) string { return role + "@" + tenant }

func (r tokenRequest) validate() error {
	if r.Tenant == "" {
		return errors.New("-tenant is required")
	}
	if !slices.Contains(roles, r.Role) {
		return fmt.Errorf("-role %q is not one of %s", r.Role, strings.Join(roles, ", "))
	}
	if r.TTL <= 0 {
		return fmt.Errorf("-ttl %s must be positive", r.TTL)
	}
	maxTTL := r.MaxTTL
	if maxTTL == 0 {
		maxTTL = auth.DefaultMaxTokenLifetime
	}
	if r.TTL > maxTTL {
		return fmt.Errorf("-ttl %s is longer than the services accept (%s, AUTH_MAX_TOKEN_LIFETIME): ask for less, or set AUTH_MAX_TOKEN_LIFETIME for both make run and this command", short(r.TTL), short(maxTTL))
	}
	return nil
}

// short writes d as people do: 12h, 1h30m, 90s rather than 12h0m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// issueToken signs a dev token with the issuer kept in the data folder
// (creating it on first use).
func issueToken(l layout, r tokenRequest) (string, error) {
	if err := r.validate(); err != nil {
		return "", err
	}
	if r.User == "" {
		r.User = defaultUser(r.Role, r.Tenant)
	}
	if r.Team == "" {
		r.Team = defaultTeam
	}
	iss, err := devIssuer(l)
	if err != nil {
		return "", err
	}
	return iss.Token(auth.Principal{
		TenantID: tenancy.LocalID(r.Tenant),
		UserID:   r.User,
		Roles:    []string{r.Role},
		Team:     r.Team,
	}, r.TTL)
}

func devIssuer(l layout) (*devauth.Issuer, error) {
	if err := os.MkdirAll(filepath.Dir(l.issuerKey()), 0o700); err != nil {
		return nil, err
	}
	iss, err := devauth.LoadOrCreate(l.issuerKey())
	if err != nil {
		return nil, fmt.Errorf("dev issuer %s: %w", l.issuerKey(), err)
	}
	return iss, nil
}

// writeIssuerKeys makes sure the dev issuer exists and writes its public key
// where services read it (AUTH_PUBLIC_KEY_FILE).
func writeIssuerKeys(l layout) error {
	iss, err := devIssuer(l)
	if err != nil {
		return err
	}
	pem := iss.PublicKeyPEM()
	if have, err := os.ReadFile(l.issuerPub()); err == nil && bytes.Equal(have, pem) {
		return nil
	}
	// Rename into place: a service starting now reads the old or the new file, never half of one.
	tmp := l.issuerPub() + ".tmp"
	if err := os.WriteFile(tmp, pem, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, l.issuerPub())
}

// webSessionKey is the key sealing the web application's session cookies,
// made once and kept in the data folder so that sessions outlive a restart.
func webSessionKey(l layout) (string, error) {
	if have, err := os.ReadFile(l.sessionKey()); err == nil {
		return strings.TrimSpace(string(have)), nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString(key)
	if err := os.MkdirAll(filepath.Dir(l.sessionKey()), 0o700); err != nil {
		return "", err
	}
	return enc, os.WriteFile(l.sessionKey(), []byte(enc+"\n"), 0o600)
}
