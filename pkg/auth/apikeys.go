package auth

import (
	"context"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// APIKeyPrefix begins every tenant API key ("rpk_<id>_<secret>"); no JWT
// begins with it (a compact JWT starts with the base64url of "{").
const APIKeyPrefix = "rpk_"

// APIKeyUserPrefix begins the UserID of a principal authenticated by an API
// key ("apikey:<key id>"): such a caller is a program, not a user, so it
// owns nothing and cannot be made the owner of a record.
const APIKeyUserPrefix = "apikey:"

// VerifierFunc lets a function serve as a Verifier.
type VerifierFunc func(ctx context.Context, token string) (Principal, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, token string) (Principal, error) {
	return f(ctx, token)
}

// WithAPIKeys verifies bearer tokens that begin with APIKeyPrefix through
// keys and every other one through jwt, so that one Middleware accepts both.
// API keys skip jwt's cache: a revoked key must stop working at once.
func WithAPIKeys(jwt, keys Verifier) Verifier {
	return &dispatcher{jwt: jwt, keys: keys}
}

type dispatcher struct{ jwt, keys Verifier }

func (d *dispatcher) Verify(ctx context.Context, token string) (Principal, error) {
	if strings.HasPrefix(token, APIKeyPrefix) {
		return d.keys.Verify(ctx, token)
	}
	return d.jwt.Verify(ctx, token)
}

// remembered vouches for an API key the key verifier accepts: checking one
// is a hash compare and a map lookup, as cheap as the JWT cache, and asking
// afresh each time keeps a revoked key out at once.
func (d *dispatcher) remembered(token string) bool {
	if strings.HasPrefix(token, APIKeyPrefix) {
		_, err := d.keys.Verify(context.Background(), token)
		return err == nil
	}
	return Remembered(d.jwt, token)
}

// IsAPIKey reports whether p was authenticated by a tenant API key rather
// than on behalf of a user.
func (p Principal) IsAPIKey() bool { return strings.HasPrefix(p.UserID, APIKeyUserPrefix) }

// DefaultOwner is the owner of a record created by p when the request names
// none: p's user. An API key is no user, so its callers must name the owner;
// the error is a 422 on field.
func DefaultOwner(p Principal, field string) (string, error) {
	if p.IsAPIKey() {
		var v apperr.Invalid
		v.Add(field, "required when calling with an API key: a key is not a user and cannot own records")
		return "", v.Err()
	}
	return p.UserID, nil
}
