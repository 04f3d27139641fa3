package app_test

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// sameRefusal fails unless two answers are the same problem: status, type,
// title, detail and field errors (not the request's id or instance).
func sameRefusal(t *testing.T, what string, have, want reply) {
	t.Helper()
	strip := func(r reply) string {
		b := map[string]any{"status": r.Status}
		for _, k := range []string{"type", "title", "detail", "errors"} {
			b[k] = r.Body[k]
		}
		raw, _ := json.Marshal(b)
		return string(raw)
	}
	if h, w := strip(have), strip(want); h != w {
		t.Errorf("%s: the refusal tells the ids apart:\n have %s\n want %s", what, h, w)
	}
}

// A write may name only a contact its writer sees, by the contacts
// service's rule; one it may not see is refused exactly like an id that
// names nothing, so the answer tells nothing of which ids exist.
func TestADealNamesOnlyContactsItsWriterSees(t *testing.T) {
	h := start(t)
	tenant := h.tenantA
	ann := h.userToken(tenant, "ann", auth.RoleRep, "team-1")
	carl := h.userToken(tenant, "carl", auth.RoleRep, "team-2")
	mia := h.userToken(tenant, "mia", auth.RoleManager, "team-1")
	max := h.userToken(tenant, "max", auth.RoleManager, "team-2")
	admin := h.userToken(tenant, "root", auth.RoleAdmin, "")

	anns := h.contactOf(tenant, "Анна Иванова", "ann", "team-1")
	sharedWithCarl := h.contactOf(tenant, "Борис Петров", "ann", "team-1", "user:carl")
	sharedWithTeam2 := h.contactOf(tenant, "Вера Сидорова", "ann", "team-1", "team:team-2")
	missing := h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": uuid.NewString()}).Want(t, 422)

	hidden := h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": anns}).Want(t, 422)
	sameRefusal(t, "a rep of another team", hidden, missing)
	sameRefusal(t, "a manager of another team",
		h.do("POST", "/v1/deals", max, map[string]any{"title": "x", "contact_id": anns}).Want(t, 422), missing)
	if n := h.query(tenant, "select count(*) from deals where contact_id = $1", anns); n != 0 {
		t.Fatalf("a refused deal was stored (%d)", n)
	}

	h.do("POST", "/v1/deals", ann, map[string]any{"title": "own", "contact_id": anns}).Want(t, 201)
	h.do("POST", "/v1/deals", mia, map[string]any{"title": "team's", "contact_id": anns}).Want(t, 201)
	h.do("POST", "/v1/deals", admin, map[string]any{"title": "admin's", "contact_id": anns}).Want(t, 201)
	h.do("POST", "/v1/deals", carl, map[string]any{"title": "shared", "contact_id": sharedWithCarl}).Want(t, 201)
	h.do("POST", "/v1/deals", max, map[string]any{"title": "shared", "contact_id": sharedWithTeam2}).Want(t, 201)

	// A PATCH that names a contact is held to the same rule.
	deal := h.do("POST", "/v1/deals", carl, map[string]any{"title": "mine"}).Want(t, 201).Str("id")
	sameRefusal(t, "PATCH to a hidden contact",
		h.do("PATCH", "/v1/deals/"+deal, carl, map[string]any{"contact_id": anns}).Want(t, 422),
		h.do("PATCH", "/v1/deals/"+deal, carl, map[string]any{"contact_id": uuid.NewString()}).Want(t, 422))
	h.do("PATCH", "/v1/deals/"+deal, carl, map[string]any{"contact_id": sharedWithCarl}).Want(t, 200)

	// Three deals, none of them carl's or max's, name ann's contact.
	if n := h.query(tenant, "select count(*) from deals where contact_id = $1", anns); n != 3 {
		t.Errorf("%d deals name ann's contact, want 3", n)
	}
}

// A share taken away, a contact handed to another owner: the projection
// follows contacts' events, and so does what a write may name.
func TestWhoMayNameAContactFollowsContactsEvents(t *testing.T) {
	h := start(t)
	tenant := h.tenantA
	carl := h.userToken(tenant, "carl", auth.RoleRep, "team-2")
	id := h.contactOf(tenant, "Анна Иванова", "ann", "team-1", "user:carl")
	h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 201)

	team := "team-1"
	h.contactEvent(tenant, "crm.contact.updated", id.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: id.String(), FirstName: "Анна", LastName: "Иванова", OwnerId: "ann", Team: &team, Version: 2}})
	eventually(t, "share taken away", func() bool {
		return h.query(tenant, "select count(*) from contacts where id = $1 and version = 2", id) == 1
	})
	sameRefusal(t, "unshared", h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 422),
		h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": uuid.NewString()}).Want(t, 422))

	team = "team-2"
	h.contactEvent(tenant, "crm.contact.updated", id.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: id.String(), FirstName: "Анна", LastName: "Иванова", OwnerId: "carl", Team: &team, Version: 3}})
	eventually(t, "handed over", func() bool {
		return h.query(tenant, "select count(*) from contacts where id = $1 and version = 3", id) == 1
	})
	h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 201)

	// An event that does not say who sees the contact (an older contacts
	// service) leaves sales not knowing: without a contacts service to ask,
	// nobody may name it, not even its owner.
	h.contactEvent(tenant, "crm.contact.updated", id.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: id.String(), FirstName: "Анна", LastName: "Иванова", OwnerId: "carl", Version: 4}})
	eventually(t, "updated without visibility", func() bool {
		return h.query(tenant, "select count(*) from contacts where id = $1 and version = 4 and not visibility_known", id) == 1
	})
	h.do("POST", "/v1/deals", carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 422)
}

// Companies are the whole tenant's, as in the contacts service, and pass
// through the same check.
func TestAnyWriterMayNameACompany(t *testing.T) {
	h := start(t)
	acme := h.company(h.tenantA, "Акме")
	for _, team := range []string{"team-1", "team-2"} {
		tok := h.userToken(h.tenantA, "rep-of-"+team, auth.RoleRep, team)
		h.do("POST", "/v1/deals", tok, map[string]any{"title": "x", "company_id": acme}).Want(t, 201)
	}
}

// The same rule with the real contacts service beside sales: a contact
// sales has never seen is asked of contacts with the writer's token, one it
// holds is decided by what contacts' events said, one projected before
// sales kept visibility is asked again, and only the deals that were
// allowed reach the contact's timeline.
func TestADealNamesOnlyContactsItsWriterSeesInTheContactsService(t *testing.T) {
	h := startWithContacts(t)
	tenant := h.tenantA
	ann := h.userToken(tenant, "ann", auth.RoleRep, "team-1")
	carl := h.userToken(tenant, "carl", auth.RoleRep, "team-2")
	mia := h.userToken(tenant, "mia", auth.RoleManager, "team-1")
	contacts := func(method, path, tok string, body any, headers ...string) reply {
		t.Helper()
		return testenv.Call(t, method, h.contactsURL+path, tok, body, headers...)
	}
	created := contacts("POST", "/v1/contacts", ann, map[string]any{"first_name": "Анна", "last_name": "Иванова"}).Want(t, 201)
	id := created.Str("id")
	deal := func(tok string, body map[string]any) reply {
		t.Helper()
		return h.do("POST", "/v1/deals", tok, body)
	}
	missing := deal(carl, map[string]any{"title": "x", "contact_id": uuid.NewString()}).Want(t, 422)

	// Unknown to sales: contacts answers for carl, who does not see it.
	sameRefusal(t, "not projected", deal(carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 422), missing)
	if n := h.query(tenant, "select count(*) from contacts where id = $1", id); n != 0 {
		t.Fatalf("a refused contact joined the projection")
	}
	// The deals that reach the contact's timeline, by id.
	want := map[string]string{}
	want[deal(ann, map[string]any{"title": "ann's", "contact_id": id}).Want(t, 201).Str("id")] = "crm.deal.created"
	if n := h.query(tenant, `select count(*) from contacts where id = $1 and visibility_known and owner_id = 'ann' and team = 'team-1'`, id); n != 1 {
		t.Fatalf("the projection does not know who sees the contact")
	}
	// Held by the projection now: the same refusal, for a POST and a PATCH.
	sameRefusal(t, "projected", deal(carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 422), missing)
	own := deal(carl, map[string]any{"title": "carl's"}).Want(t, 201).Str("id")
	sameRefusal(t, "PATCH", h.do("PATCH", "/v1/deals/"+own, carl, map[string]any{"contact_id": id}).Want(t, 422),
		h.do("PATCH", "/v1/deals/"+own, carl, map[string]any{"contact_id": uuid.NewString()}).Want(t, 422))
	want[deal(mia, map[string]any{"title": "mia's", "contact_id": id}).Want(t, 201).Str("id")] = "crm.deal.created"

	// A row projected before sales kept visibility is asked about again.
	testenv.ExecInTenant(t, h.appURL, tenant, `update contacts set visibility_known = false, owner_id = '', team = '' where id = $1`, id)
	sameRefusal(t, "visibility unknown", deal(carl, map[string]any{"title": "x", "contact_id": id}).Want(t, 422), missing)
	want[deal(ann, map[string]any{"title": "ann's again", "contact_id": id}).Want(t, 201).Str("id")] = "crm.deal.created"
	if n := h.query(tenant, "select count(*) from contacts where id = $1 and visibility_known and owner_id = 'ann'", id); n != 1 {
		t.Fatalf("contacts' answer did not fill the projection's visibility")
	}

	// Shared with carl in contacts: he may name it at once (sales asks
	// contacts rather than refuse on what its projection still holds).
	contacts("PATCH", "/v1/contacts/"+id, ann, map[string]any{"shared_with": map[string]any{"users": []string{"carl"}, "teams": []string{}}},
		"If-Match", created.Header.Get("ETag")).Want(t, 200)
	h.do("PATCH", "/v1/deals/"+own, carl, map[string]any{"contact_id": id}).Want(t, 200)
	want[own] = "crm.deal.updated"

	// The contact's timeline holds the deals that were allowed, and only them.
	var have map[string]string
	var last reply
	defer func() {
		if t.Failed() {
			t.Logf("timeline: %v\n%s", have, last.Raw)
		}
	}()
	eventually(t, "the deals in the contact's timeline", func() bool {
		r := contacts("GET", "/v1/contacts/"+id+"/timeline?limit=100", ann, nil)
		last, have = r, map[string]string{}
		items, _ := r.Body["items"].([]any)
		for _, it := range items {
			e := it.(map[string]any)
			if e["source"] == "/rapport/sales" {
				data, _ := e["data"].(map[string]any)
				subject, _ := data["subject"].(string)
				typ, _ := e["type"].(string)
				have[subject] += typ
			}
		}
		return r.Status == 200 && maps.Equal(have, want)
	})
}
