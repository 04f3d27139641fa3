package app_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// defineField publishes the contacts service's crm.field.defined (or
// changed) for a field and waits until sales holds that version.
func (h *harness) defineField(tenant uuid.UUID, id uuid.UUID, typ string, m *contactsv1.FieldDefinition) {
	h.t.Helper()
	m.Id, m.TenantId = id.String(), tenant.String()
	h.contactEvent(tenant, typ, id.String(), m)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if h.query(tenant, "select count(*) from fields where id = $1 and version = $2", id, m.Version) == 1 {
			return
		}
	}
	h.t.Fatalf("field %s v%d never reached sales", m.Key, m.Version)
}

func TestDealsCarryCustomFieldsDefinedInContacts(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	segment, budget := uuid.New(), uuid.New()
	// A contact's field is not a deal's. Published under the key of the
	// next event, it is applied before that one.
	h.contactEvent(h.tenantA, "crm.field.defined", segment.String(), &contactsv1.FieldDefinition{Id: uuid.NewString(),
		TenantId: h.tenantA.String(), Entity: "contact", Key: "hobby", Type: "text", Version: 1})
	h.defineField(h.tenantA, segment, "crm.field.defined", &contactsv1.FieldDefinition{Entity: "deal", Key: "segment", Type: "enum",
		Options: []string{"smb", "enterprise"}, Version: 1})
	h.defineField(h.tenantA, budget, "crm.field.defined", &contactsv1.FieldDefinition{Entity: "deal", Key: "budget", Type: "money", Version: 1})
	if n := h.query(h.tenantA, "select count(*) from fields where key = 'hobby'"); n != 0 {
		t.Fatalf("a contact field was kept for deals")
	}

	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "custom": map[string]any{
		"segment": "enterprise", "budget": map[string]any{"amount": 100000, "currency": "rub"}}}).Want(t, 201)
	custom := d.Body["custom"].(map[string]any)
	if custom["segment"] != "enterprise" || custom["budget"].(map[string]any)["currency"] != "RUB" {
		t.Fatalf("custom %v", custom)
	}
	id := d.Str("id")
	bad := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "custom": map[string]any{"segment": "giant", "hobby": "golf"}}).Want(t, 422)
	if f := bad.FieldPaths(); !slices.Equal(f, []string{"custom/hobby", "custom/segment"}) {
		t.Errorf("fields %v: %s", f, bad.Raw)
	}
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"custom": map[string]any{"segment": "smb"}}).Want(t, 200)
	if got := h.do("GET", "/v1/deals/"+id, rep, nil).Want(t, 200).Body["custom"].(map[string]any); got["segment"] != "smb" || got["budget"] == nil {
		t.Errorf("after patch %v", got)
	}
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"custom": nil}).Want(t, 422)

	// A required field holds from then on for new deals.
	h.defineField(h.tenantA, segment, "crm.field.changed", &contactsv1.FieldDefinition{Entity: "deal", Key: "segment", Type: "enum",
		Options: []string{"smb", "enterprise"}, Required: true, Version: 2})
	if r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "y"}).Want(t, 422); !slices.Equal(r.FieldPaths(), []string{"custom/segment"}) {
		t.Errorf("required: %s", r.Raw)
	}

	// A deleted field's values are gone from every deal.
	h.contactEvent(h.tenantA, "crm.field.deleted", budget.String(), &contactsv1.FieldDefinition{Id: budget.String(), TenantId: h.tenantA.String(),
		Entity: "deal", Key: "budget", Type: "money", Version: 2})
	eventually(t, "budget values dropped", func() bool {
		_, has := h.do("GET", "/v1/deals/"+id, rep, nil).Body["custom"].(map[string]any)["budget"]
		return !has
	})
}
