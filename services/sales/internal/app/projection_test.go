package app_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// eventually polls cond for up to 20 s.
var eventually = testenv.Eventually

// repsContact is a contact as the contacts service publishes it: rep-user's,
// of team-1 (as h.contact makes them).
func repsContact(id uuid.UUID, first, last string, version int64) *contactsv1.Contact {
	team := "team-1"
	return &contactsv1.Contact{Id: id.String(), FirstName: first, LastName: last, Version: version, OwnerId: "rep-user", Team: &team}
}

func TestADealNamesOnlyContactsTheProjectionKnows(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "contact_id": uuid.NewString(), "company_id": uuid.NewString()}).Want(t, 422)
	if f := r.FieldPaths(); len(f) != 2 || f[0] != "contact_id" || f[1] != "company_id" {
		t.Fatalf("fields %v: %s", f, r.Raw)
	}
	// Another tenant's contact is no contact.
	theirs := h.contact(h.tenantB, "John", "Smith")
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "contact_id": theirs}).Want(t, 422)

	anna, acme := h.contact(h.tenantA, "Анна", "Иванова"), h.company(h.tenantA, "Акме")
	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "contact_id": anna, "company_id": acme}).Want(t, 201)
	if d.Str("contact_id") != anna.String() || d.Str("company_id") != acme.String() {
		t.Fatalf("deal %s", d.Raw)
	}
	// A deleted contact or company takes no new deals; the old ones keep it.
	h.contactEvent(h.tenantA, "crm.contact.deleted", anna.String(), &contactsv1.ContactDeleted{Id: anna.String(), TenantId: h.tenantA.String(), Version: 2})
	h.contactEvent(h.tenantA, "crm.company.deleted", acme.String(), &contactsv1.CompanyDeleted{Id: acme.String(), TenantId: h.tenantA.String(), Version: 2})
	eventually(t, "contact and company deleted", func() bool {
		return h.query(h.tenantA, "select count(*) from contacts where deleted") == 1 &&
			h.query(h.tenantA, "select count(*) from companies where deleted") == 1
	})
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "y", "contact_id": anna}).Want(t, 422)
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "y", "company_id": acme}).Want(t, 422)
	h.do("PATCH", "/v1/deals/"+d.Str("id"), rep, map[string]any{"contact_id": anna}).Want(t, 422)
	if got := h.do("GET", "/v1/deals/"+d.Str("id"), rep, nil).Want(t, 200); got.Str("contact_id") != anna.String() {
		t.Errorf("old deal lost its contact: %s", got.Raw)
	}
}

func TestMergedContactsTakeTheirDealsAlongAndBack(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	target, source := h.contact(h.tenantA, "Анна", "Иванова"), h.contact(h.tenantA, "Аня", "Иванова")
	onSource := h.do("POST", "/v1/deals", rep, map[string]any{"title": "a", "contact_id": source}).Want(t, 201).Str("id")
	onTarget := h.do("POST", "/v1/deals", rep, map[string]any{"title": "b", "contact_id": target}).Want(t, 201).Str("id")

	h.contactEvent(h.tenantA, "crm.contact.merged", target.String(), &contactsv1.ContactMerged{TenantId: h.tenantA.String(),
		TargetId: target.String(), MergedIds: []string{source.String()}, MergedAt: timestamppb.Now(),
		Target: repsContact(target, "Анна", "Иванова", 2)})
	eventually(t, "the deal re-linked", func() bool {
		return h.do("GET", "/v1/deals/"+onSource, rep, nil).Str("contact_id") == target.String()
	})
	if d := h.do("GET", "/v1/deals/"+onSource, rep, nil); d.Body["version"] != 2.0 {
		t.Errorf("re-linked deal %s", d.Raw)
	}
	if d := h.do("GET", "/v1/deals/"+onTarget, rep, nil); d.Str("contact_id") != target.String() || d.Body["version"] != 1.0 {
		t.Errorf("the target's own deal changed: %s", d.Raw)
	}
	// The merged id takes no new deal, and says where the person went.
	r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "c", "contact_id": source}).Want(t, 422)
	if !strings.Contains(string(r.Raw), target.String()) {
		t.Errorf("refusal does not name the surviving contact: %s", r.Raw)
	}

	h.contactEvent(h.tenantA, "crm.contact.unmerged", target.String(), &contactsv1.ContactUnmerged{TenantId: h.tenantA.String(),
		TargetId: target.String(), UnmergedAt: timestamppb.Now(),
		Restored: []*contactsv1.Contact{repsContact(source, "Аня", "Иванова", 2)},
		Target:   repsContact(target, "Анна", "Иванова", 3)})
	eventually(t, "the deal went back", func() bool {
		return h.do("GET", "/v1/deals/"+onSource, rep, nil).Str("contact_id") == source.String()
	})
	if d := h.do("GET", "/v1/deals/"+onTarget, rep, nil); d.Str("contact_id") != target.String() {
		t.Errorf("unmerge took the target's own deal: %s", d.Raw)
	}
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "d", "contact_id": source}).Want(t, 201)
}

func TestAnErasedPersonsNameIsForgotten(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	anna := h.contact(h.tenantA, "Анна", "Иванова")
	deal := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "contact_id": anna}).Want(t, 201).Str("id")
	if n := h.query(h.tenantA, "select count(*) from contacts where name = 'Анна Иванова'"); n != 1 {
		t.Fatalf("projection holds %d named rows", n)
	}
	h.contactEvent(h.tenantA, "crm.contact.erased", anna.String(), &contactsv1.ContactErased{Id: anna.String(), TenantId: h.tenantA.String()})
	eventually(t, "name forgotten", func() bool {
		return h.query(h.tenantA, "select count(*) from contacts where erased and name = ''") == 1
	})
	// A late update (older event replayed) does not bring the name back.
	h.contactEvent(h.tenantA, "crm.contact.updated", anna.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: anna.String(), FirstName: "Анна", LastName: "Иванова", Version: 5}})
	eventually(t, "update applied", func() bool { return h.query(h.tenantA, "select count(*) from contacts where version = 5") == 1 })
	if n := h.query(h.tenantA, "select count(*) from contacts where name like '%Анна%'"); n != 0 {
		t.Errorf("an erased name came back with a later update")
	}
	h.do("GET", "/v1/deals/"+deal, rep, nil).Want(t, 200)
}

func TestADealsSourceIsOneOfTheTenantsLeadSources(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	// No lead sources known (and no contacts service to ask): any source.
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "source": "billboard"}).Want(t, 201)

	h.contactEvent(h.tenantA, "crm.lead_sources.changed", h.tenantA.String(), &contactsv1.LeadSourcesChanged{TenantId: h.tenantA.String(),
		Sources: []*contactsv1.LeadSource{{Value: "website", Label: "Сайт"}, {Value: "referral", Label: "Рекомендация"}}})
	eventually(t, "lead sources known", func() bool { return h.query(h.tenantA, "select count(*) from lead_sources") == 1 })
	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "source": " Website "}).Want(t, 201)
	if d.Str("source") != "website" {
		t.Errorf("source %q, want the canonical website", d.Str("source"))
	}
	r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "source": "billboard"}).Want(t, 422)
	if !strings.Contains(string(r.Raw), "website, referral") || r.FieldPaths()[0] != "source" {
		t.Errorf("refusal: %s", r.Raw)
	}
	h.do("PATCH", "/v1/deals/"+d.Str("id"), rep, map[string]any{"source": "billboard"}).Want(t, 422)
	h.do("PATCH", "/v1/deals/"+d.Str("id"), rep, map[string]any{"source": "referral"}).Want(t, 200)
	// Another tenant's sources are its own.
	h.do("POST", "/v1/deals", h.token(h.tenantB, auth.RoleRep), map[string]any{"title": "x", "source": "billboard"}).Want(t, 201)
}

// The projection holds the contacts sales references: an update of one it
// holds changes it, an update of any other adds nothing.
func TestTheProjectionHoldsOnlyWhatSalesReferences(t *testing.T) {
	h := start(t)
	known := h.contact(h.tenantA, "Анна", "Иванова")
	stranger := uuid.New()
	// Under the known contact's key, so it is applied before that one's update.
	h.contactEvent(h.tenantA, "crm.contact.updated", known.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: stranger.String(), FirstName: "Кто", LastName: "Угодно", Version: 3}})
	h.contactEvent(h.tenantA, "crm.contact.updated", known.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: known.String(), FirstName: "Анна", LastName: "Петрова", Version: 2}})
	eventually(t, "the known contact updated", func() bool {
		return h.query(h.tenantA, "select count(*) from contacts where id = $1 and name = 'Анна Петрова' and version = 2", known) == 1
	})
	if n := h.query(h.tenantA, "select count(*) from contacts where id = $1", stranger); n != 0 {
		t.Errorf("an unreferenced contact's update made a row")
	}
}
