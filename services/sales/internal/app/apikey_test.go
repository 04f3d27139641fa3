package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/sales/internal/app"
)

// A tenant's API key is no user: a deal made with it must name its owner,
// and then belongs to that owner.
func TestAPIKeyCallerNamesTheOwner(t *testing.T) {
	h := start(t)
	key, entry, err := tenancy.IssueAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	prov := tenancy.NewProvisioner(h.brokers, "/test")
	defer prov.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prov.Publish(ctx, &tenancyv1.TenantRecord{Id: id.String(), Name: "keyed", Generation: 1, Region: "local",
		BaseCurrency: "RUB", ApiKeys: []*tenancyv1.ApiKey{entry}}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, id.String(), 1, []string{app.Name}); err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", "/v1/deals", key, map[string]any{"title": "by integration", "amount": 1000}).Want(t, 422)
	if !slices.Contains(r.FieldPaths(), "owner_id") {
		t.Fatalf("the refusal does not name owner_id: %s", r.Raw)
	}
	d := h.do("POST", "/v1/deals", key, map[string]any{"title": "by integration", "amount": 1000, "owner_id": "olga"}).Want(t, 201)
	if d.Str("owner_id") != "olga" {
		t.Fatalf("owner: %s", d.Raw)
	}
	// The key is its tenant's only: tenant A's deals are not its.
	h.do("GET", "/v1/deals/"+h.do("POST", "/v1/deals", h.token(h.tenantA, "admin"), map[string]any{"title": "A's", "amount": 1}).Want(t, 201).Str("id"), key, nil).Want(t, 404)
}
