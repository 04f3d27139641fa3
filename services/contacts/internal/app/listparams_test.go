package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// Companies' search box follows the rule of contacts' (domain.CheckSearch):
// punctuation alone, too long or too many words is a 422 on q, never a list
// of everything. The list and its export alike.
func TestCompanySearchIsCheckedLikeContacts(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка", "tax_id": "7701234567"}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна"}).Want(t, http.StatusCreated)
	for _, q := range []string{"'", `" ' «»`, "();", strings.Repeat("я", 201), strings.Repeat("a ", 11)} {
		for _, path := range []string{"/v1/contacts", "/v1/companies", "/v1/contacts/export", "/v1/companies/export"} {
			r := h.do("GET", path+"?q="+url.QueryEscape(q), tok, nil).Want(t, http.StatusUnprocessableEntity)
			if f := r.FieldPaths(); len(f) != 1 || f[0] != "q" {
				t.Fatalf("%s?q=%q: %s", path, q, r.Raw)
			}
		}
	}
	// What the rule admits still searches.
	for _, q := range []string{"ромаш", "  ромашка  ", "7701234567", ""} {
		if l := h.do("GET", "/v1/companies?q="+url.QueryEscape(q), tok, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 1 {
			t.Fatalf("q=%q: %s", q, l.Raw)
		}
	}
}

// Every list refuses a parameter it does not take, naming it, instead of
// ignoring it and answering rows that were not asked for; and a cursor of
// one list is refused by another.
func TestListsRefuseUnknownParameters(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	company := h.do("POST", "/v1/companies", tok, map[string]any{"name": "Ромашка"}).Want(t, http.StatusCreated).Body["id"].(string)
	contact := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна", "company_id": company}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Борис"}).Want(t, http.StatusCreated)
	for _, path := range []string{"/v1/contacts?sort_by=name", "/v1/contacts?format=csv", "/v1/companies?sort=name",
		"/v1/companies?owner_id=x", "/v1/companies/" + company + "/contacts?sort=name", "/v1/companies/export?limit=1",
		"/v1/contacts/export?cursor=x", "/v1/activities?contact=" + contact, "/v1/contacts/" + contact + "/timeline?sort=at",
		"/v1/fields?entity=contact&type=text", "/v1/contacts/duplicates?q=anna"} {
		r := h.do("GET", path, tok, nil).Want(t, http.StatusUnprocessableEntity)
		u, _ := url.Parse(path)
		if f := r.FieldPaths(); len(f) != 1 || !u.Query().Has(f[0]) || f[0] == "entity" {
			t.Errorf("%s: %s", path, r.Raw)
		}
	}
	// A parameter given twice would count once: refused, as sales does.
	for _, path := range []string{"/v1/contacts?tag=vip&tag=new", "/v1/companies?q=a&q=b", "/v1/contacts/export?q=a&q=b",
		"/v1/activities?contact_id=" + contact + "&contact_id=" + contact} {
		r := h.do("GET", path, tok, nil).Want(t, http.StatusUnprocessableEntity)
		if f := r.FieldPaths(); len(f) != 1 || !strings.Contains(string(r.Raw), "must be given once") {
			t.Errorf("%s: %s", path, r.Raw)
		}
	}
	// A custom field's filter is a parameter of the contact list.
	h.do("POST", "/v1/fields", tok, map[string]any{"entity": "contact", "key": "segment", "label": "S", "type": "text"}).Want(t, http.StatusCreated)
	h.do("GET", "/v1/contacts?custom.segment=b2b&sort=-name", tok, nil).Want(t, http.StatusOK)
	// A cursor of contacts sorted by name is no cursor of companies.
	next := h.do("GET", "/v1/contacts?sort=name&limit=1", tok, nil).Want(t, http.StatusOK).Body["next_cursor"].(string)
	r := h.do("GET", "/v1/companies?cursor="+next, tok, nil).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "cursor" {
		t.Fatalf("a contacts cursor for companies: %s", r.Raw)
	}
}

// Every operation, not only lists, refuses a query parameter it does not
// take (as sales' do): a read, a write and an import alike. A refused write
// writes nothing, and an id that is no id still answers 404 before any
// parameter.
func TestEveryOperationRefusesParametersItDoesNotTake(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	contact := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна"}).Want(t, http.StatusCreated).Body["id"].(string)
	for _, tc := range []struct {
		method, path string
		Body         any
		fields       string
	}{
		{"GET", "/v1/contacts/" + contact + "?fields=first_name", nil, "fields"},
		{"GET", "/v1/contacts/" + contact + "/data-export?format=zip", nil, "format"},
		{"PATCH", "/v1/contacts/" + contact + "?force=1", map[string]any{"first_name": "Берта"}, "force"},
		{"PATCH", "/v1/contacts/" + contact + "?allow_duplicate=true&allow_duplicate=true", map[string]any{"first_name": "Берта"}, "allow_duplicate"},
		{"POST", "/v1/activities?notify=1", map[string]any{"kind": "sms", "contact_id": contact}, "notify"},
		{"POST", "/v1/activities?notify=1", map[string]any{"kind": "call", "contact_id": "anna"}, "contact_id,notify"},
		{"GET", "/v1/lead-sources?archived=true", nil, "archived"},
		{"POST", "/v1/imports?entity=contacts&dryrun=true", "first_name\nВера\n", "dryrun"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			headers := []string{"If-Match", `"1"`}
			if s, ok := tc.Body.(string); ok {
				r := testenv.Call(t, tc.method, h.url+tc.path, tok, []byte(s), "Content-Type", "text/csv").Want(t, http.StatusUnprocessableEntity)
				if f := strings.Join(r.FieldPaths(), ","); f != tc.fields {
					t.Errorf("fields %s, want %s: %s", f, tc.fields, r.Raw)
				}
				return
			}
			r := h.do(tc.method, tc.path, tok, tc.Body, headers...).Want(t, http.StatusUnprocessableEntity)
			if f := strings.Join(r.FieldPaths(), ","); f != tc.fields {
				t.Errorf("fields %s, want %s: %s", f, tc.fields, r.Raw)
			}
		})
	}
	if g := h.do("GET", "/v1/contacts/"+contact, tok, nil).Want(t, http.StatusOK); g.Body["first_name"] != "Анна" || g.Body["version"].(float64) != 1 {
		t.Errorf("a refused write changed the contact: %s", g.Raw)
	}
	if n := h.countRows(h.tenantA, "activities"); n != 0 {
		t.Errorf("%d activities logged by refused writes", n)
	}
	if n := h.countRows(h.tenantA, "imports"); n != 0 {
		t.Errorf("%d imports started by refused requests", n)
	}
	h.do("GET", "/v1/contacts/anna?fields=x", tok, nil).Want(t, http.StatusNotFound)
}
