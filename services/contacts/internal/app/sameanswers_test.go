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
	theirs := h.do("POST", "/v1/companies", b, map[string]any{"name": "Чужая"}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/contacts", b, map[string]any{"first_name": "Чужой", "company_id": theirs}).Want(t, http.StatusCreated)
	for _, id := range []string{uuid.NewString(), theirs} {
		for _, path := range []string{"/v1/companies/" + id + "/contacts", "/v1/contacts?company_id=" + id,
			"/v1/contacts/export?company_id=" + id, "/v1/activities?company_id=" + id} {
			r := h.do("GET", path, a, nil).Want(t, http.StatusNotFound)
			if !strings.HasSuffix(r.Body["type"].(string), "/not-found") || r.Body["detail"] != "company not found" {
				t.Errorf("%s: %s", path, r.Raw)
			}
		}
	}
	// A company of the tenant's own lists its contacts either way.
	ours := h.do("POST", "/v1/companies", a, map[string]any{"name": "Своя"}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/contacts", a, map[string]any{"first_name": "Свой", "company_id": ours}).Want(t, http.StatusCreated)
	for _, path := range []string{"/v1/companies/" + ours + "/contacts", "/v1/contacts?company_id=" + ours} {
		if l := h.do("GET", path, a, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 1 {
			t.Errorf("%s: %s", path, l.Raw)
		}
	}
}

// An erasure changes the contact like any other write, so it honours
// If-Match like them: a stale tag is a 412 that erases nothing.
func TestEraseHonoursIfMatch(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	id := h.do("POST", "/v1/contacts", adm, anna).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("PATCH", "/v1/contacts/"+id, adm, map[string]any{"position": "CFO"}).Want(t, http.StatusOK)
	for _, stale := range []string{`"1"`, `W/"2"`} {
		h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil, "If-Match", stale).Want(t, http.StatusPreconditionFailed)
	}
	h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil, "If-Match", "7,").Want(t, http.StatusBadRequest)
	if g := h.do("GET", "/v1/contacts/"+id, adm, nil).Want(t, http.StatusOK); g.Body["erased_at"] != nil || g.Body["first_name"] != "Анна" {
		t.Fatalf("a refused erasure erased: %s", g.Raw)
	}
	e := h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil, "If-Match", `"2"`).Want(t, http.StatusOK)
	if e.Body["erased_at"] == nil || e.Header.Get("ETag") != `"3"` {
		t.Fatalf("erased: %s", e.Raw)
	}
}
