package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

func TestCustomFields(t *testing.T) {
	h := start(t)
	adm, rep := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantA, auth.RoleRep)
	segment := map[string]any{"entity": "contact", "key": "segment", "label": "Сегмент", "type": "enum",
		"options": []map[string]any{{"value": "smb", "label": "Малый бизнес"}, {"value": "enterprise"}}}
	h.do("POST", "/v1/fields", rep, segment).Want(t, http.StatusForbidden)
	f := h.do("POST", "/v1/fields", adm, segment).Want(t, http.StatusCreated)
	fieldID := f.Body["id"].(string)
	if f.Header.Get("Location") != "/v1/fields/"+fieldID || f.Body["options"].([]any)[1].(map[string]any)["label"] != "enterprise" {
		t.Fatalf("have %s", f.Raw)
	}
	for _, d := range []map[string]any{
		{"entity": "contact", "key": "budget", "label": "Бюджет", "type": "money"},
		{"entity": "contact", "key": "employees", "label": "Сотрудников", "type": "number", "position": 2},
		{"entity": "contact", "key": "newsletter", "label": "Рассылка", "type": "boolean"},
		{"entity": "company", "key": "verified", "label": "Проверена", "type": "boolean"},
	} {
		h.do("POST", "/v1/fields", adm, d).Want(t, http.StatusCreated)
	}
	r := h.do("POST", "/v1/fields", adm, segment).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "key" {
		t.Fatalf("a repeated key: %s", r.Raw)
	}
	r = h.do("POST", "/v1/fields", adm, map[string]any{"entity": "task", "key": "1x", "type": "color"}).Want(t, http.StatusUnprocessableEntity)
	if f := strings.Join(r.FieldPaths(), ","); f != "entity,key,type,label" {
		t.Fatalf("a bad definition: %s", f)
	}
	if l := h.do("GET", "/v1/fields?entity=contact", rep, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 4 {
		t.Fatalf("contact fields %s", l.Raw)
	}
	h.do("GET", "/v1/fields?entity=task", rep, nil).Want(t, http.StatusUnprocessableEntity)
	// Deal fields are defined here too; the sales service checks their values.
	h.do("POST", "/v1/fields", adm, map[string]any{"entity": "deal", "key": "segment", "label": "Сегмент", "type": "enum",
		"options": []map[string]any{{"value": "smb"}, {"value": "enterprise"}}}).Want(t, http.StatusCreated)
	if l := h.do("GET", "/v1/fields?entity=deal", rep, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 1 {
		t.Fatalf("deal fields %s", l.Raw)
	}

	// Values are validated and normalised on every write.
	c := h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "Иван", "custom": map[string]any{
		"segment": "smb", "budget": map[string]any{"amount": 1500000, "currency": "rub"}, "employees": 250, "newsletter": true}}).
		Want(t, http.StatusCreated)
	custom := c.Body["custom"].(map[string]any)
	if custom["segment"] != "smb" || custom["budget"].(map[string]any)["currency"] != "RUB" || custom["employees"].(float64) != 250 {
		t.Fatalf("custom %v", custom)
	}
	id := c.Body["id"].(string)
	h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "Пётр", "custom": map[string]any{"segment": "enterprise", "newsletter": false}}).
		Want(t, http.StatusCreated)
	r = h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "X", "custom": map[string]any{"segment": "huge", "color": "red", "employees": "many"}}).
		Want(t, http.StatusUnprocessableEntity)
	if f := strings.Join(r.FieldPaths(), ","); f != "custom/color,custom/employees,custom/segment" {
		t.Fatalf("bad values: %s", f)
	}
	// A patch sets and clears (null) only what it names.
	p := h.do("PATCH", "/v1/contacts/"+id, rep, map[string]any{"custom": map[string]any{"employees": 300, "newsletter": nil}}).Want(t, http.StatusOK)
	if pc := p.Body["custom"].(map[string]any); pc["employees"].(float64) != 300 || pc["newsletter"] != nil || pc["segment"] != "smb" {
		t.Fatalf("patched custom %v", pc)
	}

	// Filters by custom values, typed by the field.
	for query, want := range map[string]int{"custom.segment=smb": 1, "custom.segment=enterprise": 1, "custom.employees=300": 1,
		"custom.newsletter=false": 1, "custom.segment=smb&custom.employees=250": 0} {
		if l := h.do("GET", "/v1/contacts?"+query, rep, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != want {
			t.Errorf("%s: %d contacts, want %d", query, len(l.Body["items"].([]any)), want)
		}
	}
	for query, field := range map[string]string{"custom.color=red": "custom.color", "custom.employees=many": "custom.employees", "custom.employees=NaN": "custom.employees"} {
		r := h.do("GET", "/v1/contacts?"+query, rep, nil).Want(t, http.StatusUnprocessableEntity)
		if f := r.FieldPaths(); len(f) != 1 || f[0] != field {
			t.Errorf("%s: %s", query, r.Raw)
		}
	}
	// Export carries a column per custom field.
	rows := exportRows(t, h.do("GET", "/v1/contacts/export?custom.segment=smb", adm, nil).Want(t, http.StatusOK), ',')
	header := strings.Join(rows[0], ",")
	for _, c := range []string{"custom.segment", "custom.budget", "custom.employees", "custom.newsletter"} {
		if !strings.Contains(header, ","+c) {
			t.Fatalf("header %s lacks %s", header, c)
		}
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	if rows[1][col["custom.segment"]] != "smb" || rows[1][col["custom.budget"]] != "1500000 RUB" || rows[1][col["custom.employees"]] != "300" {
		t.Fatalf("row %v", rows[1])
	}

	// A field made required is required from then on, and cannot be cleared.
	h.do("PATCH", "/v1/fields/"+fieldID, adm, map[string]any{"required": true}, "If-Match", `"7"`).Want(t, http.StatusPreconditionFailed)
	h.do("PATCH", "/v1/fields/"+fieldID, adm, map[string]any{"required": true}, "If-Match", `"1"`).Want(t, http.StatusOK)
	r = h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "Без сегмента"}).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "custom/segment" {
		t.Fatalf("a required field: %s", r.Raw)
	}
	h.do("PATCH", "/v1/contacts/"+id, rep, map[string]any{"custom": map[string]any{"segment": nil}}).Want(t, http.StatusUnprocessableEntity)

	// Companies have their own fields.
	co := h.do("POST", "/v1/companies", rep, map[string]any{"name": "Ромашка", "custom": map[string]any{"verified": true}}).Want(t, http.StatusCreated)
	if co.Body["custom"].(map[string]any)["verified"] != true {
		t.Fatalf("company custom %s", co.Raw)
	}
	h.do("POST", "/v1/companies", rep, map[string]any{"name": "Beta", "custom": map[string]any{"segment": "smb"}}).Want(t, http.StatusUnprocessableEntity)

	// Another tenant sees none of it.
	b := h.token(h.tenantB, auth.RoleAdmin)
	h.do("GET", "/v1/fields/"+fieldID, b, nil).Want(t, http.StatusNotFound)
	h.do("PATCH", "/v1/fields/"+fieldID, b, map[string]any{"label": "x"}).Want(t, http.StatusNotFound)
	h.do("DELETE", "/v1/fields/"+fieldID, b, nil).Want(t, http.StatusNotFound)
	if l := h.do("GET", "/v1/fields", b, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("tenant B lists tenant A's fields: %s", l.Raw)
	}
	h.do("POST", "/v1/contacts", b, map[string]any{"first_name": "B", "custom": map[string]any{"segment": "smb"}}).Want(t, http.StatusUnprocessableEntity)

	// Deleting a field deletes its values everywhere.
	h.do("DELETE", "/v1/fields/"+fieldID, adm, nil).Want(t, http.StatusNoContent)
	if g := h.do("GET", "/v1/contacts/"+id, rep, nil).Want(t, http.StatusOK); g.Body["custom"].(map[string]any)["segment"] != nil {
		t.Fatalf("the deleted field's value stayed: %s", g.Raw)
	}
	h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "Снова без сегмента"}).Want(t, http.StatusCreated)
}

// Contacts sort by a custom field, either way, pages joined by cursors;
// contacts without a value come last.
func TestSortByCustomField(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	h.do("POST", "/v1/fields", adm, map[string]any{"entity": "contact", "key": "score", "label": "Score", "type": "number"}).
		Want(t, http.StatusCreated)
	h.do("POST", "/v1/fields", adm, map[string]any{"entity": "contact", "key": "budget", "label": "Budget", "type": "money"}).
		Want(t, http.StatusCreated)
	names := map[string]string{}
	for _, c := range []struct {
		name   string
		score  any
		budget any
	}{{"c3", 30, map[string]any{"amount": 900, "currency": "RUB"}}, {"c1", 5, map[string]any{"amount": 100000, "currency": "RUB"}},
		{"c2", 12.5, nil}, {"none", nil, nil}, {"c1b", 5, nil}} {
		custom := map[string]any{}
		if c.score != nil {
			custom["score"] = c.score
		}
		if c.budget != nil {
			custom["budget"] = c.budget
		}
		id := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": c.name, "custom": custom}).Want(t, http.StatusCreated).Body["id"].(string)
		names[id] = c.name
	}
	walk := func(sort string, limit int) []string {
		var out []string
		cursor := ""
		for range 10 {
			r := h.do("GET", fmt.Sprintf("/v1/contacts?limit=%d&sort=%s&cursor=%s", limit, sort, cursor), adm, nil).Want(t, http.StatusOK)
			for _, it := range r.Body["items"].([]any) {
				out = append(out, names[it.(map[string]any)["id"].(string)])
			}
			next, _ := r.Body["next_cursor"].(string)
			if next == "" {
				return out
			}
			cursor = next
		}
		t.Fatalf("%s: paging does not end", sort)
		return nil
	}
	for sort, want := range map[string]string{
		"custom.score":   "[c1 c1b c2 c3 none]",
		"-custom.score":  "[c3 c2 c1b c1 none]",
		"custom.budget":  "[c3 c1 c2 none c1b]",
		"-custom.budget": "[c1 c3 c1b none c2]",
	} {
		// Pages of one row put equal values (c1, c1b) on two pages.
		for _, limit := range []int{1, 2} {
			if got := fmt.Sprint(walk(sort, limit)); got != want {
				t.Errorf("sort=%s limit=%d: %s, want %s", sort, limit, got, want)
			}
		}
	}
	r := h.do("GET", "/v1/contacts?sort=custom.nope", adm, nil).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "sort" {
		t.Fatalf("fields: %v", f)
	}
	// Another tenant's fields are not this tenant's sorts.
	h.do("GET", "/v1/contacts?sort=custom.score", h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusUnprocessableEntity)
}
