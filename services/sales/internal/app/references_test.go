package app_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// A contact or company sales holds as deleted is asked of the contacts
// service like a missing or a hidden one: refused at once, it answered
// faster than those and so told that the id had existed. The answers are
// the same too.
func TestADeletedReferenceIsAskedLikeAMissingOne(t *testing.T) {
	h := startWithContacts(t)
	tenant := h.tenantA
	ann := h.userToken(tenant, "ann", auth.RoleRep, "team-1")
	carl := h.userToken(tenant, "carl", auth.RoleRep, "team-2")
	contacts := func(method, path, tok string, body any, headers ...string) reply {
		t.Helper()
		return testenv.Call(t, method, h.contactsURL+path, tok, body, headers...)
	}
	// Two contacts of ann's and a company that sales learns of from her
	// deals; one contact and the company are then deleted.
	gone := contacts("POST", "/v1/contacts", ann, map[string]any{"first_name": "Анна", "last_name": "Иванова"}).Want(t, 201)
	kept := contacts("POST", "/v1/contacts", ann, map[string]any{"first_name": "Борис", "last_name": "Петров"}).Want(t, 201)
	firm := contacts("POST", "/v1/companies", ann, map[string]any{"name": "Акме"}).Want(t, 201)
	for _, body := range []map[string]any{{"contact_id": gone.Str("id")}, {"contact_id": kept.Str("id")}, {"company_id": firm.Str("id")}} {
		body["title"] = "ann's"
		h.do("POST", "/v1/deals", ann, body).Want(t, 201)
	}
	contacts("DELETE", "/v1/contacts/"+gone.Str("id"), ann, nil, "If-Match", gone.Header.Get("ETag")).Want(t, 204)
	contacts("DELETE", "/v1/companies/"+firm.Str("id"), ann, nil, "If-Match", firm.Header.Get("ETag")).Want(t, 204)
	eventually(t, "the deletions in the projection", func() bool {
		return h.query(tenant, "select count(*) from contacts where id = $1 and deleted", gone.Str("id")) == 1 &&
			h.query(tenant, "select count(*) from companies where id = $1 and deleted", firm.Str("id")) == 1
	})

	for _, tc := range []struct {
		what, field, path, tok, id string
	}{
		{"a deleted contact, for its owner", "contact_id", "/v1/contacts/", ann, gone.Str("id")},
		{"a deleted contact, for another team", "contact_id", "/v1/contacts/", carl, gone.Str("id")},
		{"a hidden contact", "contact_id", "/v1/contacts/", carl, kept.Str("id")},
		{"a deleted company", "company_id", "/v1/companies/", ann, firm.Str("id")},
	} {
		missing := h.do("POST", "/v1/deals", tc.tok, map[string]any{"title": "x", tc.field: uuid.NewString()}).Want(t, 422)
		before := h.asked.count("GET " + tc.path + tc.id)
		have := h.do("POST", "/v1/deals", tc.tok, map[string]any{"title": "x", tc.field: tc.id}).Want(t, 422)
		if n := h.asked.count("GET "+tc.path+tc.id) - before; n != 1 {
			t.Errorf("%s: contacts was asked %d times, want once, as for a missing id", tc.what, n)
		}
		sameRefusal(t, tc.what, have, missing)
	}
}
