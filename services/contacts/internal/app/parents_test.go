package app_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
)

// provision publishes rec and waits until the service has applied it.
func (h *harness) provision(rec *tenancyv1.TenantRecord) {
	h.t.Helper()
	prov := tenancy.NewProvisioner(h.brokers, "/test")
	defer prov.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prov.Publish(ctx, rec); err != nil {
		h.t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, rec.GetId(), rec.GetGeneration(), []string{app.Name}); err != nil {
		h.t.Fatal(err)
	}
}

// A parent tenant's admins read their children's contacts by naming the
// child in the Rapport-Tenant header, and only read; everyone else is told
// the child does not exist.
func TestParentAdminReadsChildContacts(t *testing.T) {
	h := start(t)
	parent, child := uuid.New(), uuid.New()
	h.provision(&tenancyv1.TenantRecord{Id: parent.String(), Name: "hq", Generation: 1, Region: "local",
		DefaultCountry: "US", Admins: []string{"hq-boss"}})
	h.provision(&tenancyv1.TenantRecord{Id: child.String(), Name: "sales-dept", Generation: 1, Region: "local",
		DefaultCountry: "US", ParentId: parent.String(), ParentChain: []string{parent.String()}})

	dana := h.do("POST", "/v1/contacts", h.token(child, auth.RoleRep), map[string]any{"first_name": "Dana"}).
		Want(t, http.StatusCreated).Body["id"].(string)
	parentAdmin := h.token(parent, auth.RoleAdmin)
	h.do("POST", "/v1/contacts", parentAdmin, map[string]any{"first_name": "Hal"}).Want(t, http.StatusCreated)

	names := func(r testenv.Reply) string {
		t.Helper()
		var out []string
		for _, it := range r.Body["items"].([]any) {
			out = append(out, it.(map[string]any)["first_name"].(string))
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	inChild := []string{tenancy.HeaderTenant, child.String()}

	// The parent's admins, by role or by the parent's record, see every
	// contact of the child, and only the child's.
	for name, tok := range map[string]string{
		"admin role":           parentAdmin,
		"listed in the record": h.tokenFor(parent, "hq-boss", "hq", auth.RoleRep),
		"admin without a team": h.tokenFor(parent, "hq-admin", "", auth.RoleAdmin),
	} {
		if have := names(h.do("GET", "/v1/contacts", tok, nil, inChild...).Want(t, http.StatusOK)); have != "Dana" {
			t.Errorf("%s: sees %q in the child, want Dana", name, have)
		}
	}
	g := h.do("GET", "/v1/contacts/"+dana, parentAdmin, nil, inChild...).Want(t, http.StatusOK)
	if g.Body["first_name"] != "Dana" {
		t.Fatalf("have %s", g.Raw)
	}
	// Without the header the parent sees its own contacts only.
	if have := names(h.do("GET", "/v1/contacts", parentAdmin, nil).Want(t, http.StatusOK)); have != "Hal" {
		t.Fatalf("the parent sees %q without the header, want Hal", have)
	}
	h.do("GET", "/v1/contacts/"+dana, parentAdmin, nil).Want(t, http.StatusNotFound)

	// Everyone else is answered as if the child did not exist.
	notFound := func(name string, r testenv.Reply) {
		t.Helper()
		r.Want(t, http.StatusNotFound)
		if r.Body["type"] != httpkit.ProblemType("tenant-not-found") {
			t.Errorf("%s: have %s", name, r.Raw)
		}
	}
	notFound("the parent's rep", h.do("GET", "/v1/contacts", h.token(parent, auth.RoleRep), nil, inChild...))
	notFound("the parent's analyst", h.do("GET", "/v1/contacts", h.token(parent, auth.RoleAnalyst), nil, inChild...))
	notFound("an unrelated tenant's admin", h.do("GET", "/v1/contacts", h.token(h.tenantA, auth.RoleAdmin), nil, inChild...))
	notFound("the child's admin reading its parent", h.do("GET", "/v1/contacts", h.token(child, auth.RoleAdmin), nil,
		tenancy.HeaderTenant, parent.String()))

	// The parent's admins only read: no writes, no admin-only reads.
	w := h.do("POST", "/v1/contacts", parentAdmin, map[string]any{"first_name": "Intruder"}, inChild...).Want(t, http.StatusForbidden)
	if w.Body["type"] != httpkit.ProblemType("descendant-read-only") {
		t.Fatalf("have %s", w.Raw)
	}
	h.do("PATCH", "/v1/contacts/"+dana, parentAdmin, map[string]any{"first_name": "Renamed"}, inChild...).Want(t, http.StatusForbidden)
	// A person's data export stays with the child's own admins.
	x := h.do("GET", "/v1/contacts/"+dana+"/data-export", parentAdmin, nil, inChild...).Want(t, http.StatusForbidden)
	if x.Body["type"] != httpkit.ProblemType("admin-only") {
		t.Fatalf("have %s", x.Raw)
	}
	if n := h.countRows(child, "contacts"); n != 1 {
		t.Fatalf("the child has %d contacts, want 1", n)
	}
	if g := h.do("GET", "/v1/contacts/"+dana, h.token(child, auth.RoleAdmin), nil).Want(t, http.StatusOK); g.Body["first_name"] != "Dana" {
		t.Fatalf("have %s", g.Raw)
	}

	h.do("GET", "/v1/contacts", parentAdmin, nil, tenancy.HeaderTenant, "sales-dept").Want(t, http.StatusBadRequest)
}
