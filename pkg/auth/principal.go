// Package auth establishes who is calling: it verifies the bearer JWT
// (from the enterprise IdP's JWKS, a static public key, or the local dev
// issuer), turns its claims into a Principal and puts it in the request's
// context. A bearer token that is a tenant API key ("rpk_…") goes instead to
// the key verifier WithAPIKeys puts in front (the tenant directory). The
// tenant and user come only from a verified token.
package auth

import (
	"context"
	"slices"

	"github.com/google/uuid"
)

// Roles a principal can hold.
const (
	RoleAdmin   = "admin"
	RoleManager = "manager"
	RoleRep     = "rep"
	RoleAnalyst = "analyst"
	RoleViewer  = "viewer"
)

// Principal is the verified caller.
type Principal struct {
	TenantID uuid.UUID
	UserID   string
	Roles    []string
	Team     string
}

// HasRole reports whether p holds role.
func (p Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom is the principal in ctx; ok is false when there is none.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
