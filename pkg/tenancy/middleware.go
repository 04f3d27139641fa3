package tenancy

import (
	"context"
	"net/http"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// Admit decides whether tenant t (known false: never provisioned) may make a
// request of method. Suspended tenants are refused (their data is kept); a
// tenant deleted with policy Retain may still read. The gateway and every
// service admit with this one function.
func Admit(t Tenant, known bool, method string) error {
	switch {
	case !known:
		return apperr.New(apperr.KindForbidden, "tenant-unknown", "your tenant is not provisioned")
	case t.Suspended:
		return apperr.New(apperr.KindForbidden, "tenant-suspended", "your tenant is suspended; its data is kept, but no request is served until it is resumed")
	case t.State == StateDeleted:
		return apperr.New(apperr.KindForbidden, "tenant-deleted", "your tenant has been deleted")
	case t.State == StateRetained && method != http.MethodGet && method != http.MethodHead:
		return apperr.New(apperr.KindForbidden, "tenant-read-only", "your tenant has been deleted; its data is retained read-only")
	}
	return nil
}

// Admit applies the package-level Admit to the principal's tenant.
func (d *Directory) Admit(p auth.Principal, method string) error {
	t, ok := d.Lookup(p.TenantID)
	return Admit(t, ok, method)
}

type tenantKey struct{}

// TenantFrom returns the tenant Middleware admitted.
func TenantFrom(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(Tenant)
	return t, ok
}

// Middleware admits requests (after auth.Middleware) per Admit and puts the
// admitted tenant in the context.
func (d *Directory) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		if !ok {
			httpkit.EncodeError(r.Context(), apperr.New(apperr.KindUnauthorized, "unauthenticated", "a verified token is required"), w)
			return
		}
		t, known := d.Lookup(p.TenantID)
		if err := Admit(t, known, r.Method); err != nil {
			httpkit.EncodeError(r.Context(), err, w)
			return
		}
		r2 := r.WithContext(context.WithValue(r.Context(), tenantKey{}, t))
		next.ServeHTTP(w, r2)
		httpkit.RecordRoute(r2)
	})
}
