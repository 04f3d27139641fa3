package tenancy

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
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
// admitted tenant in the context. A request naming a descendant tenant in
// HeaderTenant continues, when descendantPrincipal allows it, as a
// read-only principal of that tenant (the caller's tenant is admitted too).
func (d *Directory) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, ok := auth.PrincipalFrom(ctx)
		if !ok {
			httpkit.EncodeError(ctx, apperr.New(apperr.KindUnauthorized, "unauthenticated", "a verified token is required"), w)
			return
		}
		t, known := d.Lookup(p.TenantID)
		if err := Admit(t, known, r.Method); err != nil {
			httpkit.EncodeError(ctx, err, w)
			return
		}
		if values := r.Header.Values(HeaderTenant); len(values) > 0 {
			q, target, err := d.descendantPrincipal(p, t, values, r.Method)
			if err != nil {
				httpkit.EncodeError(ctx, err, w)
				return
			}
			if q.TenantID != p.TenantID {
				// Logs and spans name the tenant whose data is read, and the
				// span also the tenant that reads it.
				trace.SpanFromContext(ctx).SetAttributes(attribute.String("rapport.tenant_id", q.TenantID.String()),
					attribute.String("rapport.ancestor_tenant_id", p.TenantID.String()))
				ctx = telemetry.WithTenantID(auth.WithPrincipal(ctx, q), q.TenantID.String())
				t = target
			}
		}
		r2 := r.WithContext(context.WithValue(ctx, tenantKey{}, t))
		next.ServeHTTP(w, r2)
		httpkit.RecordRoute(r2)
	})
}
