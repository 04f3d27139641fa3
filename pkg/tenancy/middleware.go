package tenancy

import (
	"net/http"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// Admit decides whether the principal's tenant may make a request of method:
// unknown tenants are refused, suspended tenants are refused (their data is
// kept), and a deleted tenant kept with policy Retain is read-only.
func (d *Directory) Admit(p auth.Principal, method string) error {
	t, ok := d.Lookup(p.TenantID)
	if !ok {
		return apperr.New(apperr.KindForbidden, "tenant-unknown", "your tenant is not provisioned in this service")
	}
	if t.Suspended {
		return apperr.New(apperr.KindForbidden, "tenant-suspended", "your tenant is suspended; its data is kept, but no request is served until it is resumed")
	}
	switch t.State {
	case StateDeleted:
		return apperr.New(apperr.KindForbidden, "tenant-deleted", "your tenant has been deleted")
	case StateRetained:
		if method != http.MethodGet && method != http.MethodHead {
			return apperr.New(apperr.KindForbidden, "tenant-read-only", "your tenant has been deleted with its data retained read-only")
		}
	}
	return nil
}

// Middleware admits requests (after auth.Middleware) per Admit.
func (d *Directory) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		if !ok {
			httpkit.EncodeError(r.Context(), apperr.New(apperr.KindUnauthorized, "unauthenticated", "a verified token is required"), w)
			return
		}
		if err := d.Admit(p, r.Method); err != nil {
			httpkit.EncodeError(r.Context(), err, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}
