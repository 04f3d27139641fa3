// Package admission lets a request through only when its tenant, taken from
// the verified token, is known and allowed to make it.
package admission

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// Directory is the view of the tenants admission needs.
type Directory interface {
	Lookup(id uuid.UUID) (tenancy.Tenant, bool)
}

type tenantKey struct{}

// TenantFrom returns the tenant admission let through.
func TenantFrom(ctx context.Context) (tenancy.Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(tenancy.Tenant)
	return t, ok
}

// Admit decides whether tenant t (ok false: unknown) may make a request of
// method. A deleted tenant whose data is retained may still read it.
func Admit(t tenancy.Tenant, ok bool, method string) error {
	switch {
	case !ok:
		return apperr.New(apperr.KindForbidden, "tenant-unknown", "your tenant is not provisioned")
	case t.Suspended:
		return apperr.New(apperr.KindForbidden, "tenant-suspended", "your tenant is suspended; its data is kept, but no request is served until it is resumed")
	case t.State == tenancy.StateDeleted:
		return apperr.New(apperr.KindForbidden, "tenant-deleted", "your tenant has been deleted")
	case t.State == tenancy.StateRetained && method != http.MethodGet && method != http.MethodHead:
		return apperr.New(apperr.KindForbidden, "tenant-deleted", "your tenant has been deleted; its data is retained read-only")
	}
	return nil
}

// Middleware admits requests per Admit after auth.Middleware has verified the
// token, and puts the tenant in the context for the later stages.
func Middleware(dir Directory) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.PrincipalFrom(r.Context())
			if !ok {
				httpkit.EncodeError(r.Context(), apperr.New(apperr.KindUnauthorized, "unauthenticated", "a verified token is required"), w)
				return
			}
			t, known := dir.Lookup(p.TenantID)
			if err := Admit(t, known, r.Method); err != nil {
				httpkit.EncodeError(r.Context(), err, w)
				return
			}
			r2 := r.WithContext(context.WithValue(r.Context(), tenantKey{}, t))
			next.ServeHTTP(w, r2)
			httpkit.RecordRoute(r2)
		})
	}
}
