package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

// names lists the "first last" names of a list's items.
func names(r testenv.Reply) []string {
	var out []string
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		out = append(out, strings.TrimSpace(m["first_name"].(string)+" "+m["last_name"].(string)))
	}
	return out
}

func TestSearchFiltersAndSorts(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	company := h.do("POST", "/v1/companies", tok, map[string]any{"name": "Ромашка"}).Want(t, http.StatusCreated).Body["id"].(string)
	for _, c := range []map[string]any{
		{"first_name": "Пётр", "last_name": "Ёлкин", "emails": []string{"petr@mail.ru"}, "phones": []string{"+7 495 123-45-67"}, "company_id": company},
		{"first_name": "José", "last_name": "Müller", "tags": []string{"vip"}, "lifecycle_stage": "customer", "source": "website"},
		{"first_name": "Anna", "last_name": "Smith", "owner_id": "u2", "position": "Head of Sales", "tags": []string{"VIP", "partner"}},
		{"first_name": "Анна", "last_name": "Андреева", "emails": []string{"anna@example.ru"}},
	} {
		h.do("POST", "/v1/contacts", tok, c).Want(t, http.StatusCreated)
	}
	before := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	later := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	list := func(query string) []string {
		t.Helper()
		return names(h.do("GET", "/v1/contacts?"+query, tok, nil).Want(t, http.StatusOK))
	}
	q := func(s string) string { return "q=" + url.QueryEscape(s) }
	for query, want := range map[string]string{
		q("петр"):              "Пётр Ёлкин",    // a name prefix, without the diaeresis
		q("ЁЛК"):               "Пётр Ёлкин",    // a fragment, any case
		q("jose MULLER"):       "José Müller",   // every word, accents ignored
		q("ller"):              "José Müller",   // a fragment inside a word
		q("PETR@mail.ru"):      "Пётр Ёлкин",    // an e-mail in any case
		q("8 (495) 123 45 67"): "Пётр Ёлкин",    // a phone in any format
		q("4567"):              "Пётр Ёлкин",    // the end of a phone
		q("ромашка"):           "Пётр Ёлкин",    // the company's name
		q("head sales"):        "Anna Smith",    // the position
		q("анна"):              "Анна Андреева", // Cyrillic only
		q("нет такого"):        "",
		"tag=VIP":              "José Müller,Anna Smith", // tags are kept in lower case
		"lifecycle_stage=customer&source=website": "José Müller",
		"owner_id=u2":           "Anna Smith",
		"company_id=" + company: "Пётр Ёлкин",
		"created_from=" + later: "",
		"created_from=" + before + "&created_to=" + later + "&" + q("anna"): "Anna Smith,Анна Андреева",
		"sort=name":                "José Müller,Anna Smith,Анна Андреева,Пётр Ёлкин", // folded last names, bytewise
		"sort=-name":               "Пётр Ёлкин,Анна Андреева,Anna Smith,José Müller",
		"sort=-created_at&limit=2": "Анна Андреева,Anna Smith",
	} {
		if have := strings.Join(list(query), ","); have != want {
			t.Errorf("%s: have %q, want %q", query, have, want)
		}
	}

	// Pages follow the sort, and a change moves a contact in updated order.
	var all []string
	next := "sort=name&limit=1"
	for range 10 {
		r := h.do("GET", "/v1/contacts?"+next, tok, nil).Want(t, http.StatusOK)
		all = append(all, names(r)...)
		c, _ := r.Body["next_cursor"].(string)
		if c == "" {
			break
		}
		next = "sort=name&limit=1&cursor=" + c
	}
	if strings.Join(all, ",") != "José Müller,Anna Smith,Анна Андреева,Пётр Ёлкин" {
		t.Fatalf("paged by name: %v", all)
	}
	first := h.do("GET", "/v1/contacts?sort=-updated_at&limit=1", tok, nil).Want(t, http.StatusOK)
	oldest := h.do("GET", "/v1/contacts?sort=updated_at&limit=1", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)
	h.do("PATCH", "/v1/contacts/"+oldest["id"].(string), tok, map[string]any{"position": "Boss"}).Want(t, http.StatusOK)
	if have := list("sort=-updated_at&limit=1"); have[0] != "Пётр Ёлкин" {
		t.Fatalf("after the change the newest is %v", have)
	}
	// A keyset cursor is stable: the page after the old newest holds the
	// contacts older than it, without the one that moved to the top.
	rest := list("sort=-updated_at&limit=3&cursor=" + first.Body["next_cursor"].(string))
	if strings.Join(rest, ",") != "Anna Smith,José Müller" {
		t.Fatalf("the page after the newest: %v", rest)
	}
	// A cursor of one order does not continue another.
	h.do("GET", "/v1/contacts?sort=name&cursor="+first.Body["next_cursor"].(string), tok, nil).Want(t, http.StatusUnprocessableEntity)

	// Bad parameters are field errors.
	for query, field := range map[string]string{"sort=age": "sort", "created_from=yesterday": "created_from",
		"lifecycle_stage=friend": "lifecycle_stage", "company_id=acme": "company_id", "cursor=xyz": ""} {
		r := h.do("GET", "/v1/contacts?"+query, tok, nil)
		if field == "" {
			if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d", query, r.Status)
			}
			continue
		}
		r.Want(t, http.StatusUnprocessableEntity)
		if f := r.FieldPaths(); len(f) != 1 || f[0] != field {
			t.Errorf("%s: fields %v", query, f)
		}
	}

	// Another tenant finds none of it.
	b := h.token(h.tenantB, auth.RoleAdmin)
	for _, query := range []string{q("петр"), q("petr@mail.ru"), "tag=vip", q("ромашка")} {
		if r := h.do("GET", "/v1/contacts?"+query, b, nil).Want(t, http.StatusOK); len(r.Body["items"].([]any)) != 0 {
			t.Errorf("tenant B found %s: %s", query, r.Raw)
		}
	}
}

// Rows whose stored sort key is not the service's fold (written before it
// folded names) still page by name to the end, each once.
func TestPagingByNameFollowsTheStoredKey(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	for range 3 {
		h.do("POST", "/v1/contacts", tok, map[string]any{"last_name": "Smith"}).Want(t, http.StatusCreated)
	}
	ctx := context.Background()
	pool, err := postgres.Open(ctx, h.appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.InTenant(ctx, pool, h.tenantA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update contacts set sort_name = 'smith '`) // the old migration's approximation
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	next := "sort=name&limit=1"
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatalf("paging by name does not end: %v", seen)
		}
		r := h.do("GET", "/v1/contacts?"+next, tok, nil).Want(t, http.StatusOK)
		for _, it := range r.Body["items"].([]any) {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		c, _ := r.Body["next_cursor"].(string)
		if c == "" {
			break
		}
		next = "sort=name&limit=1&cursor=" + c
	}
	if len(seen) != 3 {
		t.Fatalf("saw %d of 3 contacts", len(seen))
	}
}
