package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// A tenant API key is "rpk_" + a 16-hex-digit id + "_" + 43 base64url
// characters (32 random bytes). The id finds the key's tenant without a
// search; the secret is checked against the SHA-256 the tenant record
// carries, so the record can travel on a topic every service reads.
const (
	apiKeyIDLen     = 16
	apiKeySecretLen = 43 // base64url of 32 bytes, unpadded
	apiKeyLen       = len(auth.APIKeyPrefix) + apiKeyIDLen + 1 + apiKeySecretLen
)

var apiKeySecret = base64.RawURLEncoding.Strict()

// IssueAPIKey makes a fresh key and its record entry: the key for the
// tenant's Secret, the entry for its TenantRecord.
func IssueAPIKey() (string, *tenancyv1.ApiKey, error) {
	key, err := NewAPIKey()
	if err != nil {
		return "", nil, err
	}
	rec, err := APIKeyRecord(key)
	return key, rec, err
}

// NewAPIKey makes a fresh tenant API key with a random id and secret.
func NewAPIKey() (string, error) {
	var id [apiKeyIDLen / 2]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("tenancy: API key id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", fmt.Errorf("tenancy: API key secret: %w", err)
	}
	return auth.APIKeyPrefix + hex.EncodeToString(id[:]) + "_" + apiKeySecret.EncodeToString(secret[:]), nil
}

// APIKeyRecord is what a tenant record carries of key: its id and the
// SHA-256 of the whole key. It is deterministic, so the operator recomputes
// it from the tenant's Secret on every reconcile without changing the record.
func APIKeyRecord(key string) (*tenancyv1.ApiKey, error) {
	id, err := parseAPIKey(key)
	if err != nil {
		return nil, fmt.Errorf("tenancy: malformed API key: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	return &tenancyv1.ApiKey{Id: id, Sha256: sum[:]}, nil
}

// parseAPIKey checks key's format and returns its id. Its errors never
// quote the key: they end up in logs and problems.
func parseAPIKey(key string) (string, error) {
	if len(key) != apiKeyLen {
		return "", fmt.Errorf("a key has %d characters, this one %d", apiKeyLen, len(key))
	}
	rest, ok := strings.CutPrefix(key, auth.APIKeyPrefix)
	if !ok {
		return "", fmt.Errorf("a key begins with %q", auth.APIKeyPrefix)
	}
	id, secret := rest[:apiKeyIDLen], rest[apiKeyIDLen:]
	if !isLowerHex(id) {
		return "", fmt.Errorf("the key id after %q must be %d lowercase hex digits", auth.APIKeyPrefix, apiKeyIDLen)
	}
	secret, ok = strings.CutPrefix(secret, "_")
	if !ok {
		return "", errors.New("the key id must be followed by \"_\"")
	}
	if raw, err := apiKeySecret.DecodeString(secret); err != nil || len(raw) != 32 {
		return "", fmt.Errorf("the secret after the id must be %d base64url characters (32 bytes, no padding)", apiKeySecretLen)
	}
	return id, nil
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func invalidAPIKey(message string) error {
	return &apperr.Error{Kind: apperr.KindUnauthorized, Slug: "invalid-token", Message: message}
}

// VerifyAPIKey returns the principal of a tenant API key the directory
// knows: an admin of its tenant whose UserID is "apikey:<id>". Whether the
// tenant may be served is Admit's question, asked after this one.
func (d *Directory) VerifyAPIKey(key string) (auth.Principal, error) {
	id, err := parseAPIKey(key)
	if err != nil {
		return auth.Principal{}, invalidAPIKey("invalid API key: " + err.Error())
	}
	sum := sha256.Sum256([]byte(key))
	d.mu.RLock()
	holders := d.keys[id]
	var (
		tenant    uuid.UUID
		ambiguous bool
	)
	for _, h := range holders {
		if subtle.ConstantTimeCompare(h.sha256, sum[:]) != 1 {
			continue
		}
		ambiguous = ambiguous || (tenant != uuid.Nil && tenant != h.tenant)
		tenant = h.tenant
	}
	d.mu.RUnlock()
	// Two tenants listing the same key (a Secret copied between them) would
	// make the key's tenant a guess: it is refused for both.
	if tenant == uuid.Nil || ambiguous {
		return auth.Principal{}, invalidAPIKey("invalid API key")
	}
	return auth.Principal{TenantID: tenant, UserID: auth.APIKeyUserPrefix + id, Roles: []string{auth.RoleAdmin}}, nil
}

// APIKeyVerifier is VerifyAPIKey as an auth.Verifier, for auth.WithAPIKeys.
func (d *Directory) APIKeyVerifier() auth.Verifier {
	return auth.VerifierFunc(func(_ context.Context, key string) (auth.Principal, error) { return d.VerifyAPIKey(key) })
}
