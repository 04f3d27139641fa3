package tenancy

import (
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
)

// HeaderTenant names a descendant tenant that a parent tenant's admin reads
// (DESIGN.md §5: HQ sees its departments). The caller's identity still comes
// only from the verified token; the header narrows it to one descendant and
// is authorised by Middleware.
const HeaderTenant = "Rapport-Tenant"

// DescendantRole is the only role an ancestor's admin holds in a descendant.
// Analysts see every record (the services' visibility gives them "all") but
// may not write, and lack the admin-only powers (a person's data export or
// erasure, custom fields) that stay with the descendant's own admins.
const DescendantRole = auth.RoleAnalyst

var (
	// errTenantNotFound answers every refused descendant read alike, so
	// that nobody learns whether another tenant exists.
	errTenantNotFound = apperr.New(apperr.KindNotFound, "tenant-not-found", "tenant not found")
	// errDescendantReadOnly is told only to an ancestor's admin, who
	// already knows the descendant.
	errDescendantReadOnly = apperr.New(apperr.KindForbidden, "descendant-read-only",
		"a parent tenant's admins may only read (GET, HEAD) a descendant tenant")
	errBadTenantHeader = apperr.New(apperr.KindBadRequest, "bad-tenant-header",
		"the "+HeaderTenant+" header must be a single tenant id (a UUID)")
)

// descendantPrincipal is the principal and tenant that a request by p, whose
// tenant own is already admitted, continues as when it carries HeaderTenant
// values.
// Naming p's own tenant changes nothing. Any other tenant is served only
// when it is p's tenant's descendant, p is an admin of its own tenant and
// method reads; the descendant is then admitted like any tenant. Every other
// refusal is errTenantNotFound.
func (d *Directory) descendantPrincipal(p auth.Principal, own Tenant, values []string, method string) (auth.Principal, Tenant, error) {
	if len(values) != 1 {
		return p, own, errBadTenantHeader
	}
	id, err := uuid.Parse(values[0])
	if err != nil {
		return p, own, errBadTenantHeader
	}
	if id == p.TenantID {
		return p, own, nil
	}
	t, ok := d.Lookup(id)
	if !ok || !descends(t, p.TenantID) || !isAdmin(p, own) {
		return p, own, errTenantNotFound
	}
	if method != http.MethodGet && method != http.MethodHead {
		return p, own, errDescendantReadOnly
	}
	if err := Admit(t, true, method); err != nil {
		return p, own, err
	}
	return auth.Principal{TenantID: id, UserID: p.UserID, Roles: []string{DescendantRole}}, t, nil
}

// descends reports whether ancestor is in t's parent chain.
func descends(t Tenant, ancestor uuid.UUID) bool {
	return slices.ContainsFunc(t.Record.GetParentChain(), func(s string) bool {
		id, err := uuid.Parse(s)
		return err == nil && id == ancestor
	})
}

// Departments are the tenants below p's own that p may read (as
// HeaderTenant names them): none unless p administers its tenant. They are
// by name; suspended and deleted ones are left out.
func (d *Directory) Departments(p auth.Principal) []Tenant {
	own, ok := d.Lookup(p.TenantID)
	if !ok || !isAdmin(p, own) {
		return nil
	}
	var out []Tenant
	for _, t := range d.Tenants() {
		if t.ID != p.TenantID && descends(t, p.TenantID) && !t.Suspended && t.State == StateActive {
			out = append(out, t)
		}
	}
	return out
}

// isAdmin reports whether p administers own, its tenant: by the token's
// role or by the tenant record's list of admins.
func isAdmin(p auth.Principal, own Tenant) bool {
	return p.HasRole(auth.RoleAdmin) || (p.UserID != "" && slices.Contains(own.Record.GetAdmins(), p.UserID))
}
