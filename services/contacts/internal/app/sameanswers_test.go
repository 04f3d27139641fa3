package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// Asking for the contacts of a company the tenant does not have (missing,
// or another tenant's) answers 404 however the company is named: in the
// path, as the contact list's filter, in its export, or as the activity
// list's filter.
func TestAnUnknownCompanyAnswersAlikeOnEveryList(t *testing.T) {
	h := start(t)
	a, b := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantB, auth.RoleAdmin)
	theirs := h.do("POST", "/v1/companies", b, map[string]any{"name": "Чужая"}).want(t, http.StatusCreated).body["id"].(string)
	h.do("POST", "/v1/contacts", b, map[string]any{"first_name": "Чужой", "company_id": theirs}).want(t, http.StatusCreated)
	for _, id := range []string{uuid.NewString(), theirs} {
		for _, path := range []string{"/v1/companies/" + id + "/contacts", "/v1/contacts?company_id=" + id,
			"/v1/contacts/export?company_id=" + id, "/v1/activities?company_id=" + id} {
			r := h.do("GET", path, a, nil).want(t, http.StatusNotFound)
			if !strings.HasSuffix(r.body["type"].(string), "/not-found") || r.body["detail"] != "company not found" {
				t.Errorf("%s: %s", path, r.raw)
			}
		}
	}
	// A company of the tenant's own lists its contacts either way.
	ours := h.do("POST", "/v1/companies", a, map[string]any{"name": "Своя"}).want(t, http.StatusCreated).body["id"].(string)
	h.do("POST", "/v1/contacts", a, map[string]any{"first_name": "Свой", "company_id": ours}).want(t, http.StatusCreated)
	for _, path := range []string{"/v1/companies/" + ours + "/contacts", "/v1/contacts?company_id=" + ours} {
		if l := h.do("GET", path, a, nil).want(t, http.StatusOK); len(l.body["items"].([]any)) != 1 {
			t.Errorf("%s: %s", path, l.raw)
		}
	}
}

// An erasure changes the contact like any other write, so it honours
// If-Match like them: a stale tag is a 412 that erases nothing.
func TestEraseHonoursIfMatch(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	id := h.do("POST", "/v1/contacts", adm, anna).want(t, http.StatusCreated).body["id"].(string)
	h.do("PATCH", "/v1/contacts/"+id, adm, map[string]any{"position": "CFO"}).want(t, http.StatusOK)
	for _, stale := range []string{`"1"`, `W/"2"`} {
		h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil, "If-Match", stale).want(t, http.StatusPreconditionFailed)
	}
	h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil, "If-Match", "7,").want(t, http.StatusBadRequest)
	if g := h.do("GET", "/v1/contacts/"+id, adm, nil).want(t, http.StatusOK); g.body["erased_at"] != nil || g.body["first_name"] != "Анна" {
		t.Fatalf("a refused erasure erased: %s", g.raw)
	}
	e := h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil, "If-Match", `"2"`).want(t, http.StatusOK)
	if e.body["erased_at"] == nil || e.header.Get("ETag") != `"3"` {
		t.Fatalf("erased: %s", e.raw)
	}
}
