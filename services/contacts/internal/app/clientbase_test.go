package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// A contact keeps the richer fields, normalises its channels with the
// tenant's default country, and shows the client's local time.
func TestRichContactRoundTrip(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	body := map[string]any{"first_name": "Пётр", "last_name": "Смирнов", "emails": []string{"Petr@Example.RU"},
		"phones": []string{"8 (495) 123-45-67"}, "position": "Директор", "lifecycle_stage": "prospect",
		"source": "referral", "address": map[string]any{"country": "ru", "city": "Москва"}, "birthday": "1980-02-29"}
	r := h.do("POST", "/v1/contacts", tok, body).Want(t, http.StatusCreated)
	for k, want := range map[string]any{"position": "Директор", "lifecycle_stage": "prospect", "source": "referral",
		"timezone": "Europe/Moscow", "birthday": "1980-02-29", "company_id": nil} {
		if r.Body[k] != want {
			t.Errorf("%s: have %v, want %v", k, r.Body[k], want)
		}
	}
	if p := r.Body["phones"].([]any); len(p) != 1 || p[0] != "+74951234567" {
		t.Errorf("phones %v", p)
	}
	if e := r.Body["emails"].([]any); e[0] != "petr@example.ru" {
		t.Errorf("emails %v", e)
	}
	if a := r.Body["address"].(map[string]any); a["country"] != "RU" || a["city"] != "Москва" {
		t.Errorf("address %v", a)
	}
	local, err := time.Parse(time.RFC3339, r.Body["local_time"].(string))
	if _, off := local.Zone(); err != nil || off != 3*3600 || time.Since(local) > time.Minute {
		t.Errorf("local_time %v (%v)", r.Body["local_time"], err)
	}
	id := r.Body["id"].(string)
	// The event carries the new fields.
	var msg contactsv1.ContactCreated
	if err := readEvent(t, h.brokers, id).Unmarshal(&msg); err != nil || msg.GetContact().GetTimezone() != "Europe/Moscow" ||
		msg.GetContact().GetAddress().GetCity() != "Москва" || msg.GetContact().GetLifecycleStage() != "prospect" {
		t.Fatalf("event %v %v", &msg, err)
	}
	// null clears; the zone is derived again from the phone.
	p := h.do("PATCH", "/v1/contacts/"+id, tok, map[string]any{"birthday": nil, "timezone": "Asia/Vladivostok", "address": nil}).Want(t, http.StatusOK)
	if p.Body["birthday"] != nil || p.Body["address"] != nil || p.Body["timezone"] != "Asia/Vladivostok" {
		t.Fatalf("have %s", p.Raw)
	}
	p = h.do("PATCH", "/v1/contacts/"+id, tok, map[string]any{"timezone": nil}).Want(t, http.StatusOK)
	if p.Body["timezone"] != "Europe/Moscow" {
		t.Fatalf("have %s", p.Raw)
	}
	// Tenant B's default country is the US.
	b := h.do("POST", "/v1/contacts", h.token(h.tenantB, auth.RoleRep), map[string]any{"first_name": "Ann", "phones": []string{"(212) 555-0123"}}).Want(t, http.StatusCreated)
	if b.Body["phones"].([]any)[0] != "+12125550123" || b.Body["timezone"] != "America/New_York" {
		t.Fatalf("have %s", b.Raw)
	}
}

func TestRichContactBadInput(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	r := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "A", "lifecycle_stage": "friend", "timezone": "Mars/Base",
		"birthday": "1990-13-01", "company_id": "acme", "phones": []string{"+7 000"}, "address": map[string]any{"country": "Narnia"}}).
		Want(t, http.StatusUnprocessableEntity)
	// The id is checked while decoding, the values by the domain: the id
	// alone is reported first, then everything else.
	if f := strings.Join(r.FieldPaths(), ","); f != "company_id" {
		t.Fatalf("fields %s", f)
	}
	r = h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "A", "lifecycle_stage": "friend", "timezone": "Mars/Base",
		"birthday": "1990-13-01", "phones": []string{"+7 000"}, "address": map[string]any{"country": "Narnia"}}).
		Want(t, http.StatusUnprocessableEntity)
	if f := strings.Join(r.FieldPaths(), ","); f != "phones/0,address/country,lifecycle_stage,birthday,timezone" {
		t.Fatalf("fields %s", f)
	}
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "A", "address": "Moscow"}).Want(t, http.StatusUnprocessableEntity)
	h.do("POST", "/v1/contacts?allow_duplicate=maybe", tok, anna).Want(t, http.StatusUnprocessableEntity)
	if n := h.countRows(h.tenantA, "contacts"); n != 0 {
		t.Fatalf("%d contacts stored by refused requests", n)
	}
}

// A second contact with the same e-mail or phone (in any spelling) is
// refused with the duplicates listed, unless the client insists.
func TestDuplicatesAreRefusedUnlessAllowed(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	first := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	again := map[string]any{"first_name": "Аня", "emails": []string{"ANNA@example.ru"}, "phones": []string{"8 912 000 00 00"}}
	r := h.do("POST", "/v1/contacts", tok, again).Want(t, http.StatusConflict)
	dups, _ := r.Body["duplicates"].([]any)
	if !strings.HasSuffix(r.Body["type"].(string), "/duplicate-contact") || len(dups) != 1 {
		t.Fatalf("have %s", r.Raw)
	}
	d := dups[0].(map[string]any)
	if d["id"] != first || len(d["why"].([]any)) != 2 {
		t.Fatalf("duplicate %v", d)
	}
	// Another tenant's contacts are no duplicates.
	h.do("POST", "/v1/contacts", h.token(h.tenantB, auth.RoleRep), anna).Want(t, http.StatusCreated)
	second := h.do("POST", "/v1/contacts?allow_duplicate=true", tok, again).Want(t, http.StatusCreated).Body["id"].(string)
	// An update that takes another contact's channel is refused too, and
	// leaves the contact as it was.
	third := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Олег", "emails": []string{"oleg@example.ru"}}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("PATCH", "/v1/contacts/"+third, tok, map[string]any{"emails": []string{"anna@example.ru"}}).Want(t, http.StatusConflict)
	if g := h.do("GET", "/v1/contacts/"+third, tok, nil).Want(t, http.StatusOK); g.Body["emails"].([]any)[0] != "oleg@example.ru" || g.Body["version"].(float64) != 1 {
		t.Fatalf("refused update changed the contact: %s", g.Raw)
	}
	h.do("PATCH", "/v1/contacts/"+third+"?allow_duplicate=true", tok, map[string]any{"emails": []string{"anna@example.ru"}}).Want(t, http.StatusOK)
	// A duplicate kept on purpose can still change its other channels.
	h.do("PATCH", "/v1/contacts/"+third, tok, map[string]any{"phones": []string{"+7 495 111-22-33"}}).Want(t, http.StatusOK)
	// Deleting frees the channels: the two left still collide with each other only.
	for _, id := range []string{first, second, third} {
		h.do("DELETE", "/v1/contacts/"+id, tok, nil).Want(t, http.StatusNoContent)
	}
	h.do("POST", "/v1/contacts", tok, again).Want(t, http.StatusCreated)
}

// Concurrent creates of one person make one contact, whatever the timing.
func TestConcurrentDuplicatesMakeOneContact(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Race", "emails": []string{"race@example.ru"}}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if created != 1 || h.countRows(h.tenantA, "contacts") != 1 {
		t.Fatalf("statuses %v, %d rows", statuses, h.countRows(h.tenantA, "contacts"))
	}
}

var acme = map[string]any{"name": "ООО «Ромашка»", "legal_name": "Общество с ограниченной ответственностью «Ромашка»",
	"tax_id": "7701 234567", "registration_number": "1027700132195", "legal_address": "Москва, ул. Тверская, 1",
	"industry": "Retail", "website": "Romashka.RU", "phones": []string{"+7 495 765-43-21"}, "emails": []string{"info@romashka.ru"},
	"tags": []string{"key account"}}

func TestCompanies(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	r := h.do("POST", "/v1/companies", tok, acme).Want(t, http.StatusCreated)
	id := r.Body["id"].(string)
	if r.Header.Get("Location") != "/v1/companies/"+id || r.Body["tax_id"] != "7701234567" || r.Body["website"] != "https://romashka.ru" ||
		r.Body["owner_id"] != "rep-user" || r.Body["phones"].([]any)[0] != "+74957654321" {
		t.Fatalf("have %s", r.Raw)
	}
	var created contactsv1.CompanyCreated
	if err := readEvent(t, h.brokers, id).Unmarshal(&created); err != nil || created.GetCompany().GetTaxId() != "7701234567" {
		t.Fatalf("event %v %v", &created, err)
	}
	h.do("POST", "/v1/companies", tok, map[string]any{"name": "Beta LLC", "tax_id": "BETA-1"}).Want(t, http.StatusCreated)

	// Bad input.
	bad := h.do("POST", "/v1/companies", tok, map[string]any{"name": " ", "website": "ftp://x", "tax_id": "12/34"}).Want(t, http.StatusUnprocessableEntity)
	if f := strings.Join(bad.FieldPaths(), ","); f != "tax_id,website,name" {
		t.Fatalf("fields %s", f)
	}
	h.do("POST", "/v1/companies", tok, map[string]any{"name": "X", "ceo": "Y"}).Want(t, http.StatusBadRequest)

	// Update with If-Match.
	h.do("PATCH", "/v1/companies/"+id, tok, map[string]any{"industry": "Food"}, "If-Match", `"7"`).Want(t, http.StatusPreconditionFailed)
	u := h.do("PATCH", "/v1/companies/"+id, tok, map[string]any{"industry": "Food"}, "If-Match", `"1"`).Want(t, http.StatusOK)
	if u.Body["industry"] != "Food" || u.Body["version"].(float64) != 2 || u.Header.Get("ETag") != `"2"` {
		t.Fatalf("have %s", u.Raw)
	}

	// Search by name prefix (any case) or tax id; paging.
	for q, want := range map[string]int{"ооо": 1, "ромаш ооо": 1, "beta": 1, "7701234567": 1, "beta-1": 1, "zzz": 0, "%": 0} {
		l := h.do("GET", "/v1/companies?q="+url.QueryEscape(q), tok, nil).Want(t, http.StatusOK)
		if n := len(l.Body["items"].([]any)); n != want {
			t.Errorf("q=%s: %d companies, want %d", q, n, want)
		}
	}
	p1 := h.do("GET", "/v1/companies?limit=1", tok, nil).Want(t, http.StatusOK)
	p2 := h.do("GET", "/v1/companies?limit=1&cursor="+p1.Body["next_cursor"].(string), tok, nil).Want(t, http.StatusOK)
	if p1.Body["items"].([]any)[0].(map[string]any)["id"] == p2.Body["items"].([]any)[0].(map[string]any)["id"] || p2.Body["next_cursor"] != nil {
		t.Fatalf("pages %s / %s", p1.Raw, p2.Raw)
	}

	// Contacts work for a company; the company lists them.
	c := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Иван", "company_id": id}).Want(t, http.StatusCreated)
	if c.Body["company_id"] != id {
		t.Fatalf("have %s", c.Raw)
	}
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Мария", "company_id": id}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Чужой"}).Want(t, http.StatusCreated)
	staff := h.do("GET", "/v1/companies/"+id+"/contacts?limit=1", tok, nil).Want(t, http.StatusOK)
	more := h.do("GET", "/v1/companies/"+id+"/contacts?cursor="+staff.Body["next_cursor"].(string), tok, nil).Want(t, http.StatusOK)
	if len(staff.Body["items"].([]any)) != 1 || len(more.Body["items"].([]any)) != 1 || more.Body["next_cursor"] != nil {
		t.Fatalf("staff %s / %s", staff.Raw, more.Raw)
	}
	// A company people work for is not deleted under them.
	h.do("DELETE", "/v1/companies/"+id, tok, nil).Want(t, http.StatusConflict)
	cid := c.Body["id"].(string)
	h.do("PATCH", "/v1/contacts/"+cid, tok, map[string]any{"company_id": nil}).Want(t, http.StatusOK)
	h.do("DELETE", "/v1/companies/"+id, tok, nil).Want(t, http.StatusConflict)
	for _, it := range more.Body["items"].([]any) {
		h.do("DELETE", "/v1/contacts/"+it.(map[string]any)["id"].(string), tok, nil).Want(t, http.StatusNoContent)
	}
	h.do("DELETE", "/v1/companies/"+id, tok, nil).Want(t, http.StatusNoContent)
	h.do("GET", "/v1/companies/"+id, tok, nil).Want(t, http.StatusNotFound)
	// Linking to a company that does not exist is a field error.
	r = h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "A", "company_id": id}).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "company_id" {
		t.Fatalf("have %s", r.Raw)
	}
	// Viewers read, never write.
	h.do("POST", "/v1/companies", h.token(h.tenantA, auth.RoleViewer), acme).Want(t, http.StatusForbidden)
}

// Every company endpoint answers another tenant's id exactly like a missing
// one, and a contact cannot be linked to another tenant's company.
func TestCompaniesAreTenantScoped(t *testing.T) {
	h := start(t)
	a, b := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantB, auth.RoleAdmin)
	id := h.do("POST", "/v1/companies", a, acme).Want(t, http.StatusCreated).Body["id"].(string)
	for _, req := range []struct {
		method, path string
		Body         any
	}{
		{"GET", "/v1/companies/" + id, nil},
		{"PATCH", "/v1/companies/" + id, map[string]any{"name": "Hijacked"}},
		{"DELETE", "/v1/companies/" + id, nil},
		{"GET", "/v1/companies/" + id + "/contacts", nil},
		{"GET", "/v1/companies/" + uuid.NewString(), nil},
		{"GET", "/v1/companies/not-an-id", nil},
	} {
		r := h.do(req.method, req.path, b, req.Body).Want(t, http.StatusNotFound)
		if !strings.HasSuffix(r.Body["type"].(string), "/not-found") {
			t.Errorf("%s %s: %s", req.method, req.path, r.Raw)
		}
	}
	if l := h.do("GET", "/v1/companies", b, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("tenant B lists tenant A's companies: %s", l.Raw)
	}
	r := h.do("POST", "/v1/contacts", b, map[string]any{"first_name": "B", "company_id": id}).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "company_id" {
		t.Fatalf("have %s", r.Raw)
	}
	if g := h.do("GET", "/v1/companies/"+id, a, nil).Want(t, http.StatusOK); g.Body["name"] != acme["name"] || g.Body["version"].(float64) != 1 {
		t.Fatalf("tenant B changed tenant A's company: %s", g.Raw)
	}
}

// Input no part of the stack can store is refused with a 4xx, never a 500.
func TestHostileInput(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	r := h.do("POST", "/v1/contacts", tok, `{"first_name":"A","owner_id":"u\u0000"}`).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "owner_id" {
		t.Fatalf("NUL: %s", r.Raw)
	}
	h.do("POST", "/v1/contacts", tok, `{"first_name":"A","shared_with":{"users":["\u0000"]}}`).Want(t, http.StatusUnprocessableEntity)
	for _, q := range []string{"q=%FF", "owner_id=%00", "tag=%FF%FE"} {
		h.do("GET", "/v1/contacts?"+q, tok, nil).Want(t, http.StatusBadRequest)
	}
	for _, q := range []string{strings.Repeat("я", 201), strings.Repeat("a ", 11)} {
		r := h.do("GET", "/v1/contacts?q="+url.QueryEscape(q), tok, nil).Want(t, http.StatusUnprocessableEntity)
		if f := r.FieldPaths(); len(f) != 1 || f[0] != "q" {
			t.Fatalf("q: %s", r.Raw)
		}
	}
	id := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "=HYPERLINK(\"http://evil\")", "last_name": "@SUM(A1)"}).
		Want(t, http.StatusCreated).Body["id"].(string)
	h.do("GET", "/v1/contacts/"+id+"/timeline?cursor=eyJhIjoiMDE5YTAwMDAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAwIiwidiI6Im5vdCBhIHRpbWUifQ", tok, nil).
		Want(t, http.StatusUnprocessableEntity)
	r = h.do("POST", "/v1/activities", tok, map[string]any{"kind": "call", "duration_seconds": 18446744074, "contact_id": id}).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "duration_seconds" {
		t.Fatalf("duration: %s", r.Raw)
	}
	// No flavour lets a spreadsheet run a formula (an import takes the
	// apostrophe off again: TestExportNeutralisesFormulasAndRoundTrips).
	x := exportRows(t, h.do("GET", "/v1/contacts/export?format=excel", tok, nil).Want(t, http.StatusOK), ';')
	if x[1][1] != `'=HYPERLINK("http://evil")` || x[1][2] != "'@SUM(A1)" {
		t.Fatalf("excel cells %q %q", x[1][1], x[1][2])
	}
	if c := exportRows(t, h.do("GET", "/v1/contacts/export", tok, nil).Want(t, http.StatusOK), ','); c[1][1] != `'=HYPERLINK("http://evil")` {
		t.Fatalf("csv cell %q", c[1][1])
	}
}
