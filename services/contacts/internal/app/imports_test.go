package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/imports"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// postCSV starts an import of body with the query's options.
func (h *harness) postCSV(tok, query string, body []byte) testenv.Reply {
	h.t.Helper()
	return h.do("POST", "/v1/imports?"+query, tok, body, "Content-Type", "text/csv")
}

// waitImport polls an import until it ends and returns its last state.
func (h *harness) waitImport(tok, id string) testenv.Reply {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		r := h.do("GET", "/v1/imports/"+id, tok, nil).Want(h.t, http.StatusOK)
		if s := r.Body["status"]; s == "done" || s == "failed" {
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("import %s did not end: %s", id, r.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// importErrors reads an import's rejected rows as CSV records, header
// included.
func (h *harness) importErrors(tok, id string) [][]string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.url+"/v1/imports/"+id+"/errors", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := testenv.Do(h.t, req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		raw, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("errors: %d %s", resp.StatusCode, raw)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

func counts(r testenv.Reply) string {
	return fmt.Sprintf("total=%v done=%v created=%v updated=%v skipped=%v failed=%v", r.Body["rows_total"], r.Body["rows_done"],
		r.Body["created"], r.Body["updated"], r.Body["skipped"], r.Body["failed"])
}

// An import creates the valid rows as searchable contacts with their
// timeline and one bulk event, and reports every rejected row by line and
// column; the same file again with skip creates nothing.
func TestImportContacts(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	file := []byte("first_name,last_name,emails,phones,tags,id\n" +
		"Анна,Иванова,anna@example.ru,+7 912 000-00-01,vip; new,\n" +
		"Boris,\"Smith, Jr.\",boris@example.com,,,\n" +
		"\"Мария\nМаша\",Петрова,masha@example.ru;maria@example.ru,8 912 000 00 03,,\n" +
		"Bad,Mail,not-an-email,,,\n" +
		"Ragged,row\n" +
		"Олег,Сидоров,OLEG@example.ru,,,\n")
	r := h.postCSV(tok, "entity=contacts", file).Want(t, http.StatusAccepted)
	id := r.Body["id"].(string)
	if r.Header.Get("Location") != "/v1/imports/"+id || r.Body["rows_total"].(float64) != 6 || r.Body["encoding"] != "utf-8" ||
		r.Body["delimiter"] != "," {
		t.Fatalf("started: %s", r.Raw)
	}
	done := h.waitImport(tok, id)
	if done.Body["status"] != "done" || counts(done) != "total=6 done=6 created=4 updated=0 skipped=0 failed=2" {
		t.Fatalf("import: %s", done.Raw)
	}
	errs := h.importErrors(tok, id)
	want := [][]string{{"line", "column", "message"}, {"6", "emails"}, {"7", ""}}
	if len(errs) != len(want) {
		t.Fatalf("errors: %v", errs)
	}
	for i, w := range want[1:] {
		if got := errs[i+1]; got[0] != w[0] || got[1] != w[1] || got[2] == "" {
			t.Fatalf("error %d: have %v, want line %s column %q", i, got, w[0], w[1])
		}
	}
	// Imported contacts are stored normalised, searchable, and owned by
	// the importer.
	list := h.do("GET", "/v1/contacts?q=masha@example.ru", tok, nil).Want(t, http.StatusOK)
	items := list.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("search: %s", list.Raw)
	}
	masha := items[0].(map[string]any)
	if masha["first_name"] != "Мария Маша" || masha["phones"].([]any)[0] != "+79120000003" || masha["owner_id"] != "rep-user" ||
		len(masha["emails"].([]any)) != 2 {
		t.Fatalf("imported contact: %v", masha)
	}
	oleg := h.do("GET", "/v1/contacts?q=oleg", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)
	if oleg["emails"].([]any)[0] != "oleg@example.ru" {
		t.Fatalf("e-mail not normalised: %v", oleg)
	}
	tl := h.do("GET", fmt.Sprintf("/v1/contacts/%s/timeline", masha["id"]), tok, nil).Want(t, http.StatusOK)
	if entries := tl.Body["items"].([]any); len(entries) != 1 || entries[0].(map[string]any)["type"] != service.TypeImported {
		t.Fatalf("timeline: %s", tl.Raw)
	}
	ev := readEventOfType(t, h.brokers, id, service.TypeImported)
	var m contactsv1.ContactsImported
	if err := ev.Unmarshal(&m); err != nil || len(m.GetContacts()) != 4 || m.GetImportId() != id {
		t.Fatalf("bulk event: %v %v", err, &m)
	}
	// The same file again: every valid row is a duplicate now.
	again := h.waitImport(tok, h.postCSV(tok, "entity=contacts&on_duplicate=skip", file).Want(t, http.StatusAccepted).Body["id"].(string))
	if counts(again) != "total=6 done=6 created=0 updated=0 skipped=4 failed=2" {
		t.Fatalf("second import: %s", again.Raw)
	}
	if n := h.countRows(h.tenantA, "contacts"); n != 4 {
		t.Fatalf("%d contacts after two imports", n)
	}
	// Another tenant sees neither the import nor its errors.
	tokB := h.token(h.tenantB, auth.RoleAdmin)
	h.do("GET", "/v1/imports/"+id, tokB, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/imports/"+id+"/errors", tokB, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/imports/"+uuid.NewString(), tok, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/imports/not-an-id", tok, nil).Want(t, http.StatusNotFound)
	// Nor does another user of the tenant, but for admins.
	h.do("GET", "/v1/imports/"+id, h.token(h.tenantA, auth.RoleManager), nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/imports/"+id, h.token(h.tenantA, auth.RoleAdmin), nil).Want(t, http.StatusOK)
}

// A Russian Excel export: Windows-1251, ";" between cells, Russian
// headers mapped to fields; and UTF-8 with a byte-order mark and tabs.
func TestImportDetectsEncodingAndDelimiter(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	ru, err := charmap.Windows1251.NewEncoder().Bytes([]byte("Имя;Фамилия;Почта;Телефон;Заметка\r\n" +
		"Андрей;Иванов;andrey@example.ru;8 (912) 000-00-10;\r\n" +
		"Ёлка;Щукина;yolka@example.ru;;\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	mapping := url.QueryEscape(`{"Имя":"first_name","Фамилия":"last_name","Почта":"emails","Телефон":"phones","Заметка":""}`)
	r := h.postCSV(tok, "entity=contacts&mapping="+mapping, ru).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "windows-1251" || r.Body["delimiter"] != ";" {
		t.Fatalf("detected: %s", r.Raw)
	}
	if done := h.waitImport(tok, r.Body["id"].(string)); counts(done) != "total=2 done=2 created=2 updated=0 skipped=0 failed=0" {
		t.Fatalf("import: %s", done.Raw)
	}
	c := h.do("GET", "/v1/contacts?q=andrey@example.ru", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)
	if c["first_name"] != "Андрей" || c["last_name"] != "Иванов" || c["phones"].([]any)[0] != "+79120000010" {
		t.Fatalf("cp1251 contact: %v", c)
	}
	h.do("GET", "/v1/contacts?q="+url.QueryEscape("Щукина"), tok, nil).Want(t, http.StatusOK)

	bom := append([]byte{0xEF, 0xBB, 0xBF}, []byte("first_name\tlast_name\temails\nJane\tDoe\tjane@example.com\n")...)
	r = h.postCSV(tok, "entity=contacts", bom).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "utf-8-bom" || r.Body["delimiter"] != "\t" {
		t.Fatalf("detected: %s", r.Raw)
	}
	if done := h.waitImport(tok, r.Body["id"].(string)); counts(done) != "total=1 done=1 created=1 updated=0 skipped=0 failed=0" {
		t.Fatalf("import: %s", done.Raw)
	}
	jane := h.do("GET", "/v1/contacts?q=jane@example.com", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)
	if jane["first_name"] != "Jane" {
		t.Fatalf("BOM kept in the first header or value: %v", jane)
	}
}

// on_duplicate=update fills the existing contact from the row (channels
// and tags added); create makes a second contact; a dry run writes nothing
// but counts what it would do, duplicates inside the file included.
func TestImportDuplicateModesAndDryRun(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	existing := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	file := []byte("first_name,emails,phones,position,tags\n" +
		"Анна,anna@example.ru,+7 495 111-22-33,Директор,partner\n" +
		"Пётр,petr@example.ru,,,\n" +
		"Пётр,petr@example.ru,,,\n")

	dry := h.waitImport(tok, h.postCSV(tok, "entity=contacts&on_duplicate=update&dry_run=true", file).Want(t, http.StatusAccepted).Body["id"].(string))
	if dry.Body["dry_run"] != true || counts(dry) != "total=3 done=3 created=1 updated=1 skipped=1 failed=0" {
		t.Fatalf("dry run: %s", dry.Raw)
	}
	if n := h.countRows(h.tenantA, "contacts"); n != 1 {
		t.Fatalf("a dry run wrote %d contacts", n)
	}
	if g := h.do("GET", "/v1/contacts/"+existing, tok, nil).Want(t, http.StatusOK); g.Body["version"].(float64) != 1 {
		t.Fatalf("a dry run changed the contact: %s", g.Raw)
	}

	upd := h.waitImport(tok, h.postCSV(tok, "entity=contacts&on_duplicate=update", file).Want(t, http.StatusAccepted).Body["id"].(string))
	if counts(upd) != "total=3 done=3 created=1 updated=1 skipped=1 failed=0" {
		t.Fatalf("update: %s", upd.Raw)
	}
	g := h.do("GET", "/v1/contacts/"+existing, tok, nil).Want(t, http.StatusOK)
	if g.Body["position"] != "Директор" || g.Body["last_name"] != "Иванова" || len(g.Body["phones"].([]any)) != 2 ||
		fmt.Sprint(g.Body["tags"]) != "[vip partner]" || g.Body["version"].(float64) != 2 {
		t.Fatalf("updated contact: %s", g.Raw)
	}
	// The new channel is the contact's now: a create with it is a duplicate.
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "X", "phones": []string{"+74951112233"}}).Want(t, http.StatusConflict)

	created := h.waitImport(tok, h.postCSV(tok, "entity=contacts&on_duplicate=create", file).Want(t, http.StatusAccepted).Body["id"].(string))
	if counts(created) != "total=3 done=3 created=3 updated=0 skipped=0 failed=0" {
		t.Fatalf("create: %s", created.Raw)
	}
	if n := h.countRows(h.tenantA, "contacts"); n != 5 {
		t.Fatalf("%d contacts after create", n)
	}
}

// Files that cannot be imported are refused at once and store nothing.
func TestImportBadInput(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	good := []byte("first_name,emails\nA,a@example.com\n")
	for name, tc := range map[string]struct {
		query, ctype string
		Body         []byte
		Status       int
		field        string
	}{
		"unknown column":         {"entity=contacts", "text/csv", []byte("first_name,nickname\nA,B\n"), 422, "header/2"},
		"unknown field":          {"entity=contacts&mapping=" + url.QueryEscape(`{"first_name":"nick"}`), "text/csv", good, 422, "mapping/first_name"},
		"mapping not JSON":       {"entity=contacts&mapping=nope", "text/csv", good, 422, "mapping"},
		"two columns, one field": {"entity=contacts", "text/csv", []byte("emails,EMAILS\na@x.ru,b@x.ru\n"), 422, "header/2"},
		"empty file":             {"entity=contacts", "text/csv", nil, 422, "body"},
		"no entity":              {"", "text/csv", good, 422, "entity"},
		"unknown entity":         {"entity=deals", "text/csv", good, 422, "entity"},
		"bad on_duplicate":       {"entity=contacts&on_duplicate=merge", "text/csv", good, 422, "on_duplicate"},
		"bad dry_run":            {"entity=contacts&dry_run=maybe", "text/csv", good, 422, "dry_run"},
		"not CSV":                {"entity=contacts", "application/json", []byte(`{"a":1}`), 415, ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("POST", "/v1/imports?"+tc.query, tok, tc.Body, "Content-Type", tc.ctype).Want(t, tc.Status)
			if tc.field != "" && fmt.Sprint(r.FieldPaths()) != "["+tc.field+"]" {
				t.Fatalf("fields %v, want %s: %s", r.FieldPaths(), tc.field, r.Raw)
			}
		})
	}
	// A file over the limit is refused before it is read.
	huge := io.MultiReader(bytes.NewReader(good), io.LimitReader(zeros{}, 2<<30-int64(len(good))))
	req, _ := http.NewRequest("POST", h.url+"/v1/imports?entity=contacts", huge)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "text/csv")
	req.ContentLength = 2 << 30
	resp, err := testenv.Do(t, req)
	if err != nil {
		t.Fatalf("2 GiB file: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 GiB file: %d", resp.StatusCode)
	}
	// Read-only roles may not import.
	h.postCSV(h.token(h.tenantA, auth.RoleViewer), "entity=contacts", good).Want(t, http.StatusForbidden)
	if n := h.countRows(h.tenantA, "imports"); n != 0 {
		t.Fatalf("%d imports stored by refused requests", n)
	}
}

// A service that stops in the middle of an import leaves it to the next
// one, which resumes after the last batch stored: every row imported
// once, none lost, none twice, though rows before it take two lines (a
// quoted cell with a line break) or are broken (an unclosed quote).
func TestImportResumesAfterRestart(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	const rows = 12 * imports.Batch
	var file bytes.Buffer
	file.WriteString("first_name,last_name,emails\n")
	for i := range rows {
		switch i {
		case 10:
			fmt.Fprintf(&file, "Имя%d,\"Фамилия\n%d\",person%d@example.ru\n", i, i, i)
		case 20: // line 23: the row before it takes lines 12-13
			fmt.Fprintf(&file, "\"Имя%d,Фамилия%d,person%d@example.ru\n", i, i, i)
		default:
			fmt.Fprintf(&file, "Имя%d,Фамилия%d,person%d@example.ru\n", i, i, i)
		}
	}
	id := h.postCSV(tok, "entity=contacts", file.Bytes()).Want(t, http.StatusAccepted).Body["id"].(string)
	for {
		r := h.do("GET", "/v1/imports/"+id, tok, nil).Want(t, http.StatusOK)
		if done := r.Body["rows_done"].(float64); done > 0 {
			if done == rows {
				t.Fatal("the import ended before the service could be stopped")
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.stop()
	// The stopped worker's lease would run out in ImportLease; end it now.
	ctx := context.Background()
	pool, err := postgres.Open(ctx, h.appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var status string
	var stored int64
	if err := postgres.InTenant(ctx, pool, h.tenantA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `update imports set lease_until = now() where id = $1 returning status, rows_done`, uuid.MustParse(id)).
			Scan(&status, &stored)
	}); err != nil {
		t.Fatal(err)
	}
	if status != "running" || stored == 0 || stored == rows {
		t.Fatalf("stopped at %s, %d rows", status, stored)
	}
	h.restart()
	done := h.waitImport(tok, id)
	if done.Body["status"] != "done" || counts(done) != fmt.Sprintf("total=%d done=%d created=%d updated=0 skipped=0 failed=1", rows, rows, rows-1) {
		t.Fatalf("resumed import: %s", done.Raw)
	}
	if n := h.countRows(h.tenantA, "contacts"); n != rows-1 {
		t.Fatalf("%d contacts, want %d", n, rows-1)
	}
	if n := h.countRows(h.tenantA, "contact_keys"); n != rows-1 {
		t.Fatalf("%d channel keys, want %d", n, rows-1)
	}
	if errs := h.importErrors(tok, id); len(errs) != 2 || errs[1][0] != "23" || !strings.Contains(errs[1][2], "the quote at line 23, character 1") {
		t.Fatalf("errors: %v", errs)
	}
	// A name's line break is stored as a space.
	if c := h.contactByEmail(tok, "person10@example.ru"); c["last_name"] != "Фамилия 10" {
		t.Fatalf("two-line row: %v", c)
	}
	// A row after the point where the job resumed, stored as its own line says.
	last := fmt.Sprintf("person%d@example.ru", rows-1)
	if c := h.contactByEmail(tok, last); c["first_name"] != fmt.Sprintf("Имя%d", rows-1) {
		t.Fatalf("%s: %v", last, c)
	}
}

// Companies import the same way: a company is a duplicate of one with its
// tax id or, without one, its name in any case.
func TestImportCompanies(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка", "tax_id": "7701234567"}).Want(t, http.StatusCreated)
	file := []byte("name;tax_id;website;industry;tags\n" +
		"Ромашка (новое имя);7701234567;https://romashka.ru;Retail;опт\n" +
		"ООО Василёк;;https://vasilek.ru;;\n" +
		"ооо василёк;;;Logistics;\n" +
		"Плохой сайт;;ftp://x;;\n")
	r := h.postCSV(tok, "entity=companies&on_duplicate=update", file).Want(t, http.StatusAccepted)
	done := h.waitImport(tok, r.Body["id"].(string))
	if counts(done) != "total=4 done=4 created=1 updated=1 skipped=1 failed=1" {
		t.Fatalf("import: %s", done.Raw)
	}
	errs := h.importErrors(tok, r.Body["id"].(string))
	if len(errs) != 2 || errs[1][0] != "5" || errs[1][1] != "website" {
		t.Fatalf("errors: %v", errs)
	}
	list := h.do("GET", "/v1/companies?q=7701234567", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)
	if len(list) != 1 {
		t.Fatalf("companies with the tax id: %v", list)
	}
	if c := list[0].(map[string]any); c["name"] != "Ромашка (новое имя)" || c["industry"] != "Retail" || c["version"].(float64) != 2 {
		t.Fatalf("updated company: %v", c)
	}
	if n := h.countRows(h.tenantA, "companies"); n != 2 {
		t.Fatalf("%d companies", n)
	}
	ev := readEventOfType(t, h.brokers, r.Body["id"].(string), catalog.CompaniesImported)
	var m contactsv1.CompaniesImported
	if err := ev.Unmarshal(&m); err != nil || len(m.GetCompanies()) != 1 || m.GetCompanies()[0].GetName() != "ООО Василёк" {
		t.Fatalf("bulk event: %v %v", err, &m)
	}
	// Contact columns are no company's.
	bad := h.postCSV(tok, "entity=companies", []byte("name,first_name\nA,B\n")).Want(t, http.StatusUnprocessableEntity)
	if f := bad.FieldPaths(); len(f) != 1 || f[0] != "header/2" {
		t.Fatalf("fields: %v", f)
	}
	// Another tenant has none of it.
	if n := h.countRows(h.tenantB, "companies"); n != 0 {
		t.Fatalf("tenant B has %d companies", n)
	}
	h.do("GET", "/v1/imports/"+r.Body["id"].(string), h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusNotFound)
}

// A row naming a company the tenant does not have is rejected on its own;
// the rows around it are imported.
func TestImportRejectsAnUnknownCompany(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	company := h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка"}).Want(t, http.StatusCreated).Body["id"].(string)
	other := h.do("POST", "/v1/companies", h.token(h.tenantB, auth.RoleAdmin), map[string]any{"name": "Чужая"}).Want(t, http.StatusCreated).Body["id"].(string)
	file := []byte("first_name,company_id\nАнна," + company + "\nБорис," + uuid.NewString() + "\nВера," + other + "\nГлеб,\n")
	for _, mode := range []string{"skip", "update"} {
		r := h.postCSV(tok, "entity=contacts&on_duplicate="+mode, file).Want(t, http.StatusAccepted)
		done := h.waitImport(tok, r.Body["id"].(string))
		if done.Body["status"] != "done" || done.Body["failed"].(float64) != 2 {
			t.Fatalf("%s: %s", mode, done.Raw)
		}
		errs := h.importErrors(tok, r.Body["id"].(string))
		if len(errs) != 3 || errs[1][0] != "3" || errs[1][1] != "company_id" || errs[2][0] != "4" {
			t.Fatalf("%s: errors %v", mode, errs)
		}
	}
	if n := h.countRows(h.tenantA, "contacts"); n != 4 { // Анна and Глеб, twice (no channels: no duplicates)
		t.Fatalf("%d contacts", n)
	}
}

// An attempt that breaks on something passing (here the database closes
// the service's connections mid-import) hands the job back; it is taken
// again and resumes, and every row is imported once.
func TestImportRetriesAfterLostConnections(t *testing.T) {
	h := start(t)
	defer func(d time.Duration) { imports.RetryDelay = d }(imports.RetryDelay)
	imports.RetryDelay = 200 * time.Millisecond
	tok := h.token(h.tenantA, auth.RoleAdmin)
	const rows = 12 * imports.Batch
	var file bytes.Buffer
	file.WriteString("first_name,emails\n")
	for i := range rows {
		fmt.Fprintf(&file, "Имя%d,retry%d@example.ru\n", i, i)
	}
	id := h.postCSV(tok, "entity=contacts", file.Bytes()).Want(t, http.StatusAccepted).Body["id"].(string)
	for {
		r := h.do("GET", "/v1/imports/"+id, tok, nil).Want(t, http.StatusOK)
		if done := r.Body["rows_done"].(float64); done > 0 {
			if done == rows {
				t.Fatal("the import ended before its connections could be cut")
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	u, _ := url.Parse(h.appURL)
	super, err := pgx.Connect(context.Background(), testenv.Postgres(t).URL("postgres", strings.TrimPrefix(u.Path, "/")))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(context.Background())
	if _, err := super.Exec(context.Background(), `select pg_terminate_backend(pid) from pg_stat_activity where usename = $1`,
		h.cfg.AppRole); err != nil {
		t.Fatal(err)
	}
	// Requests may meet a cut connection too; ask until the job ends.
	deadline := time.Now().Add(60 * time.Second)
	var last testenv.Reply
	for {
		last = h.do("GET", "/v1/imports/"+id, tok, nil)
		if s := last.Body["status"]; last.Status == http.StatusOK && (s == "done" || s == "failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not end: %s", last.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if counts(last) != fmt.Sprintf("total=%d done=%d created=%d updated=0 skipped=0 failed=0", rows, rows, rows) ||
		last.Body["status"] != "done" || last.Body["error"] != nil {
		t.Fatalf("import after lost connections: %s", last.Raw)
	}
	if n := h.countRows(h.tenantA, "contacts"); n != rows {
		t.Fatalf("%d contacts, want %d", n, rows)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A row that holds bytes the file's encoding does not explain is rejected
// on its own, with where the first one is, however far into the file; a
// quote inside an unquoted cell is text, as spreadsheets read it.
func TestImportRejectsBrokenRows(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	const filler = 3000
	var file bytes.Buffer
	file.WriteString("first_name,emails\nАнна,anna@x.ru\nИван \"Ваня\",ivan@x.ru\n")
	for i := range filler {
		fmt.Fprintf(&file, "Заполнитель%d,filler%d@x.ru\n", i, i)
	}
	file.WriteString("Борис,bor\xffis@x.ru\nВера,vera@x.ru\n")
	r := h.postCSV(tok, "entity=contacts", file.Bytes()).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "utf-8" {
		t.Fatalf("sniffed: %s", r.Raw)
	}
	done := h.waitImport(tok, r.Body["id"].(string))
	if done.Body["status"] != "done" || done.Body["created"].(float64) != filler+3 || done.Body["failed"].(float64) != 1 {
		t.Fatalf("import: %s", done.Raw)
	}
	errs := h.importErrors(tok, r.Body["id"].(string))
	if len(errs) != 2 || errs[1][0] != fmt.Sprint(filler+4) || errs[1][1] != "emails" ||
		!strings.Contains(errs[1][2], fmt.Sprintf("line %d, character 10: the bytes FF are not UTF-8", filler+4)) {
		t.Fatalf("errors: %v", errs)
	}
	if c := h.contactByEmail(tok, "ivan@x.ru"); c["first_name"] != `Иван "Ваня"` {
		t.Fatalf("a quote inside a cell: %v", c)
	}
}

// contactByEmail reads the one contact of the caller's tenant with an e-mail.
func (h *harness) contactByEmail(tok, email string) map[string]any {
	h.t.Helper()
	r := h.do("GET", "/v1/contacts?q="+url.QueryEscape(email), tok, nil).Want(h.t, http.StatusOK)
	items := r.Body["items"].([]any)
	if len(items) != 1 {
		h.t.Fatalf("contacts with %s: %s", email, r.Raw)
	}
	return items[0].(map[string]any)
}

// A UTF-8 file with one row saved as Windows-1251 stays UTF-8: its UTF-8
// rows are stored as written and the odd row is reported with where its
// first bad byte is and what the bytes look like, never guessed, even when
// it comes before the first 64 KiB end and the header is Russian. A file
// whose high bytes are all Windows-1251, even past the first 64 KiB, is
// Windows-1251 throughout; Excel's "Unicode Text" (UTF-16LE with a
// byte-order mark, tabs) is read as it is.
func TestImportMixedEncodings(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	odd, _ := charmap.Windows1251.NewEncoder().String("Привет")
	file := "first_name,last_name,emails\n" +
		"Юникод,Первый,u1@example.ru\n" +
		"Ёжик,Второй,u2@example.ru\n" +
		"Oleg," + odd + ",u3@example.ru\n" +
		"Мария,Третья,u4@example.ru\n"
	r := h.postCSV(tok, "entity=contacts", []byte(file)).Want(t, http.StatusAccepted)
	id := r.Body["id"].(string)
	if r.Body["encoding"] != "utf-8" {
		t.Fatalf("detected: %s", r.Raw)
	}
	done := h.waitImport(tok, id)
	if counts(done) != "total=4 done=4 created=3 updated=0 skipped=0 failed=1" {
		t.Fatalf("import: %s", done.Raw)
	}
	errs := h.importErrors(tok, id)
	if len(errs) != 2 || errs[1][0] != "4" || errs[1][1] != "last_name" || !strings.Contains(errs[1][2], "line 4, character 6") ||
		!strings.Contains(errs[1][2], "CF F0 E8 E2 E5 F2") || !strings.Contains(errs[1][2], "Привет") {
		t.Fatalf("errors: %v", errs)
	}
	for email, name := range map[string]string{"u1@example.ru": "Юникод", "u2@example.ru": "Ёжик", "u4@example.ru": "Мария"} {
		if c := h.contactByEmail(tok, email); c["first_name"] != name {
			t.Fatalf("%s stored as %q, want %q", email, c["first_name"], name)
		}
	}

	// Windows-1251 only after the first 64 KiB.
	var late bytes.Buffer
	late.WriteString("first_name,last_name,emails\n")
	ascii := 0
	for ; late.Len() < 70<<10; ascii++ {
		fmt.Fprintf(&late, "Ascii%d,Row,late%d@example.com\n", ascii, ascii)
	}
	row, _ := charmap.Windows1251.NewEncoder().String("Андрей,Поздний,andrey.late@example.ru\n")
	late.WriteString(row)
	r = h.postCSV(tok, "entity=contacts", late.Bytes()).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "windows-1251" {
		t.Fatalf("detected: %s", r.Raw)
	}
	done = h.waitImport(tok, r.Body["id"].(string))
	if counts(done) != fmt.Sprintf("total=%d done=%d created=%d updated=0 skipped=0 failed=0", ascii+1, ascii+1, ascii+1) {
		t.Fatalf("import: %s", done.Raw)
	}
	if c := h.contactByEmail(tok, "andrey.late@example.ru"); c["first_name"] != "Андрей" || c["last_name"] != "Поздний" {
		t.Fatalf("late row: %v", c)
	}

	// UTF-16LE with a byte-order mark, tab-separated, CRLF: Excel's
	// "Unicode Text".
	u16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(
		"first_name\tlast_name\temails\r\nЮлия\tПетрова\tjulia@example.ru\r\nZoë\t😀 Smile\tzoe@example.com\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	r = h.postCSV(tok, "entity=contacts", u16).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "utf-16le" || r.Body["delimiter"] != "\t" {
		t.Fatalf("detected: %s", r.Raw)
	}
	if done := h.waitImport(tok, r.Body["id"].(string)); counts(done) != "total=2 done=2 created=2 updated=0 skipped=0 failed=0" {
		t.Fatalf("import: %s", done.Raw)
	}
	if c := h.contactByEmail(tok, "julia@example.ru"); c["first_name"] != "Юлия" || c["last_name"] != "Петрова" {
		t.Fatalf("utf-16 row: %v", c)
	}
	if c := h.contactByEmail(tok, "zoe@example.com"); c["first_name"] != "Zoë" || c["last_name"] != "😀 Smile" {
		t.Fatalf("utf-16 row: %v", c)
	}

	// The client may state the encoding; a byte-order mark that contradicts
	// it, an unknown one and UTF-32 are refused, naming the encoding.
	koi, _ := charmap.KOI8R.NewEncoder().String("first_name,emails\nБорис,boris.koi@example.ru\n")
	r = h.postCSV(tok, "entity=contacts&encoding=koi8-r", []byte(koi)).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "koi8-r" {
		t.Fatalf("stated: %s", r.Raw)
	}
	if done := h.waitImport(tok, r.Body["id"].(string)); done.Body["created"].(float64) != 1 {
		t.Fatalf("import: %s", done.Raw)
	}
	if c := h.contactByEmail(tok, "boris.koi@example.ru"); c["first_name"] != "Борис" {
		t.Fatalf("koi8-r row: %v", c)
	}

	// A Russian header in UTF-8 with a Windows-1251 row in the first 64 KiB:
	// the header is read as UTF-8 (its "И" holds 0x98, no character in
	// Windows-1251), so the mapping by Russian names matches, and the odd
	// row alone is reported.
	oddRow, _ := charmap.Windows1251.NewEncoder().String("Ольга,Иванова,h2@example.ru\n")
	ruHeader := "Имя,Фамилия,Почта\nЮникод,Первая,h1@example.ru\n" + oddRow + "Ёжик,Третий,h3@example.ru\n"
	mapping := url.QueryEscape(`{"Имя":"first_name","Фамилия":"last_name","Почта":"emails"}`)
	r = h.postCSV(tok, "entity=contacts&mapping="+mapping, []byte(ruHeader)).Want(t, http.StatusAccepted)
	if r.Body["encoding"] != "utf-8" {
		t.Fatalf("detected: %s", r.Raw)
	}
	id = r.Body["id"].(string)
	if done := h.waitImport(tok, id); counts(done) != "total=3 done=3 created=2 updated=0 skipped=0 failed=1" {
		t.Fatalf("import: %s", done.Raw)
	}
	errs = h.importErrors(tok, id)
	if len(errs) != 3 || errs[1][0] != "3" || errs[1][1] != "first_name" || !strings.Contains(errs[1][2], "line 3, character 1") ||
		!strings.Contains(errs[1][2], "Ольга") || errs[2][0] != "3" || errs[2][1] != "last_name" ||
		!strings.Contains(errs[2][2], "line 3, character 7") {
		t.Fatalf("errors: %v", errs)
	}
	for email, name := range map[string][2]string{"h1@example.ru": {"Юникод", "Первая"}, "h3@example.ru": {"Ёжик", "Третий"}} {
		if c := h.contactByEmail(tok, email); c["first_name"] != name[0] || c["last_name"] != name[1] {
			t.Fatalf("%s stored as %v, want %v", email, c, name)
		}
	}
	for name, tc := range map[string]struct {
		query string
		Body  []byte
		says  string
	}{
		"unknown encoding":      {"entity=contacts&encoding=ebcdic", []byte("first_name\nA\n"), "encoding"},
		"mark against encoding": {"entity=contacts&encoding=windows-1251", u16, "UTF-16LE"},
		"utf-32":                {"entity=contacts", []byte("\xFF\xFE\x00\x00f\x00\x00\x00"), "UTF-32"},
		"utf-16 without a mark": {"entity=contacts", u16[2:], "UTF-16"},
	} {
		r := h.postCSV(tok, tc.query, tc.Body).Want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.Raw), tc.says) {
			t.Errorf("%s: %s", name, r.Raw)
		}
	}
}

// An unclosed quote is reported at its line and swallows nothing: the rows
// after it are read as rows. A quote inside an unquoted cell is text.
func TestImportUnclosedQuoteLosesNoRow(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	r := h.postCSV(tok, "entity=contacts", []byte("first_name\nGood1\nBad\"Quote\n\"Unclosed\nGood2\n")).Want(t, http.StatusAccepted)
	if r.Body["rows_total"].(float64) != 4 {
		t.Fatalf("started: %s", r.Raw)
	}
	id := r.Body["id"].(string)
	if done := h.waitImport(tok, id); counts(done) != "total=4 done=4 created=3 updated=0 skipped=0 failed=1" {
		t.Fatalf("import: %s", done.Raw)
	}
	errs := h.importErrors(tok, id)
	if len(errs) != 2 || errs[1][0] != "4" || errs[1][1] != "" || !strings.Contains(errs[1][2], "quote") {
		t.Fatalf("errors: %v", errs)
	}
	names := map[string]bool{}
	for _, it := range h.do("GET", "/v1/contacts?limit=10", tok, nil).Want(t, http.StatusOK).Body["items"].([]any) {
		names[it.(map[string]any)["first_name"].(string)] = true
	}
	if len(names) != 3 || !names["Good1"] || !names[`Bad"Quote`] || !names["Good2"] {
		t.Fatalf("stored: %v", names)
	}
}

// Dates as spreadsheets write them: dd.mm.yyyy (Excel in a Russian
// locale), d.m.yyyy and yyyy-mm-dd; a "/" date only when it cannot be read
// two ways. A bad date is reported at its line and column.
func TestImportReadsRussianDates(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	h.do("POST", "/v1/fields", tok, map[string]any{"entity": "contact", "key": "since", "label": "Клиент с", "type": "date"}).
		Want(t, http.StatusCreated)
	file := "first_name,emails,birthday,custom.since\n" +
		"Анна,d1@example.ru,15.03.1985,01.02.2020\n" +
		"Борис,d2@example.ru,5.3.1985,2020-02-01\n" +
		"Вера,d3@example.ru,1985-03-15,\n" +
		"Глеб,d4@example.ru,25/03/1985,02/25/2020\n" +
		"Дина,d5@example.ru,03/04/1985,\n" +
		"Егор,d6@example.ru,31.02.1985,\n" +
		"Жанна,d7@example.ru,15.03.85,\n" +
		"Зоя,d8@example.ru,,32.01.2020\n"
	r := h.postCSV(tok, "entity=contacts", []byte(file)).Want(t, http.StatusAccepted)
	id := r.Body["id"].(string)
	if done := h.waitImport(tok, id); counts(done) != "total=8 done=8 created=4 updated=0 skipped=0 failed=4" {
		t.Fatalf("import: %s", done.Raw)
	}
	for email, want := range map[string][2]string{"d1@example.ru": {"1985-03-15", "2020-02-01"},
		"d2@example.ru": {"1985-03-05", "2020-02-01"}, "d3@example.ru": {"1985-03-15", ""}, "d4@example.ru": {"1985-03-25", "2020-02-25"}} {
		c := h.contactByEmail(tok, email)
		since, _ := c["custom"].(map[string]any)["since"].(string)
		if c["birthday"] != want[0] || since != want[1] {
			t.Errorf("%s: birthday %v, since %v; want %v", email, c["birthday"], since, want)
		}
	}
	errs := h.importErrors(tok, id)
	want := [][2]string{{"6", "birthday"}, {"7", "birthday"}, {"8", "birthday"}, {"9", "custom.since"}}
	if len(errs) != len(want)+1 {
		t.Fatalf("errors: %v", errs)
	}
	for i, w := range want {
		if e := errs[i+1]; e[0] != w[0] || e[1] != w[1] {
			t.Errorf("error %d: %v, want %v", i, e, w)
		}
	}
	if !strings.Contains(errs[1][2], "ambiguous") {
		t.Errorf("03/04/1985: %s", errs[1][2])
	}
}

// Files of good and broken rows in random order: whatever the breakage,
// the counters add up (rows_total = created + updated + skipped + failed),
// each failed row is reported once, and every line but the blank ones ends
// up in a stored contact or in a reported row.
func TestImportAccountsForEveryLineOfBrokenFiles(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	kinds := []func(m string) string{
		func(m string) string { return "Good " + m + "," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "Юникод " + m + "," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "Bare\"Quote " + m + "," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "\"Unclosed " + m + "," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "\"Closed\"junk " + m + "," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "\"Opens " + m },
		func(m string) string { return "closes " + m + "\"," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "\"Quoted, " + m + "\"," + strings.ToLower(m) + "@example.ru" },
		func(m string) string { return "Ragged " + m },
		func(m string) string { return "Bad mail " + m + ",not-an-email" },
		func(m string) string { return "Bad\xff\xfebytes " + m + "," + strings.ToLower(m) + "@example.ru" },
		func(string) string { return "" },
	}
	rnd := rand.New(rand.NewPCG(12, 2024))
	type imported struct {
		id    string
		file  string
		lines map[int]string // line number → marker, blank lines left out
	}
	var files []imported
	for f := range 8 {
		var b strings.Builder
		b.WriteString("first_name,emails\n")
		im := imported{lines: map[int]string{}}
		n := 20 + rnd.IntN(20)
		for line := 2; line < n+2; line++ {
			m := fmt.Sprintf("F%dL%d", f, line)
			text := kinds[rnd.IntN(len(kinds))](m)
			if text != "" {
				im.lines[line] = m
			}
			b.WriteString(text)
			if line < n+1 || rnd.IntN(2) == 0 {
				b.WriteString([]string{"\n", "\r\n"}[rnd.IntN(2)])
			}
		}
		im.file = b.String()
		im.id = h.postCSV(tok, "entity=contacts", []byte(im.file)).Want(t, http.StatusAccepted).Body["id"].(string)
		files = append(files, im)
	}
	dones := make([]testenv.Reply, len(files))
	for f, im := range files {
		dones[f] = h.waitImport(tok, im.id)
	}
	var stored []string
	for cursor := ""; ; {
		r := h.do("GET", "/v1/contacts?limit=100&cursor="+url.QueryEscape(cursor), tok, nil).Want(t, http.StatusOK)
		for _, it := range r.Body["items"].([]any) {
			c := it.(map[string]any)
			stored = append(stored, fmt.Sprint(c["first_name"], " ", c["emails"]))
		}
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	span := regexp.MustCompile(`lines (\d+)–(\d+)`)
	created := 0
	for f, im := range files {
		done := dones[f]
		total := done.Body["rows_total"].(float64)
		sum := done.Body["created"].(float64) + done.Body["updated"].(float64) + done.Body["skipped"].(float64) + done.Body["failed"].(float64)
		if done.Body["status"] != "done" || total != sum || done.Body["rows_done"].(float64) != total {
			t.Fatalf("file %d: %s", f, done.Raw)
		}
		created += int(done.Body["created"].(float64))
		reported := map[int]bool{}
		failed := map[string]bool{}
		errs := h.importErrors(tok, im.id)[1:]
		for _, e := range errs {
			failed[e[0]] = true
			line, _ := strconv.Atoi(e[0])
			reported[line] = true
			if m := span.FindStringSubmatch(e[2]); m != nil {
				from, _ := strconv.Atoi(m[1])
				to, _ := strconv.Atoi(m[2])
				for l := from; l <= to; l++ {
					reported[l] = true
				}
			}
		}
		if float64(len(failed)) != done.Body["failed"].(float64) {
			t.Errorf("file %d: %v failed, %d rows reported", f, done.Body["failed"], len(failed))
		}
		for line, m := range im.lines {
			if reported[line] {
				continue
			}
			found := false
			marker := regexp.MustCompile(`(?i)` + m + `\D`)
			for _, s := range stored {
				if marker.MatchString(s) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("file %d: line %d (%s) was neither stored nor reported\n%s\nerrors: %q", f, line, m, im.file, errs)
			}
		}
	}
	if created != len(stored) {
		t.Errorf("%d contacts created, %d stored", created, len(stored))
	}
}
