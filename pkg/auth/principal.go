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
	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Roles a principal can hold (package access defines them).
const (
	RoleAdmin   = access.RoleAdmin
	RoleManager = access.RoleManager
	RoleRep     = access.RoleRep
	RoleAnalyst = access.RoleAnalyst
	RoleViewer  = access.RoleViewer
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

// Viewer is what visibility needs of p: admins and analysts see every
// record, managers and viewers their team's, reps their own, and everyone
// what is shared with them or their team.
func (p Principal) Viewer() access.Viewer { return access.ViewerOf(p.UserID, p.Team, p.Roles) }

// Writes reports whether p may change records (admins, managers, reps).
func (p Principal) Writes() bool { return access.Writes(p.Roles) }

// Configures reports whether p may change the tenant's setup (admins and
// managers).
func (p Principal) Configures() bool { return access.Configures(p.Roles) }

// ErrUnauthenticated answers a request that reached a use case without a
// verified principal of a tenant.
var ErrUnauthenticated = apperr.New(apperr.KindUnauthorized, "unauthenticated", "a verified token is required")

// Caller is the verified principal a use case runs for, or
// ErrUnauthenticated.
func Caller(ctx context.Context) (Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok || p.TenantID == uuid.Nil {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// Writer is the verified principal of a use case that changes records,
// or readOnly (the service's 403 for a role that only reads) when its
// roles may not write.
func Writer(ctx context.Context, readOnly error) (Principal, error) {
	p, err := Caller(ctx)
	if err == nil && !p.Writes() {
		err = readOnly
	}
	return p, err
}

// Configurer is the verified principal of a use case that changes a
// tenant's configuration (pipelines, outcomes, calendars), or notAllowed
// (the service's 403) when its roles may not (Principal.Configures).
func Configurer(ctx context.Context, notAllowed error) (Principal, error) {
	p, err := Caller(ctx)
	if err == nil && !p.Configures() {
		err = notAllowed
	}
	return p, err
}

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
