package app_test

import (
	"github.com/google/uuid"

	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// One person's name spelled in Cyrillic or Latin letters, in any word
// order, with or without a patronymic, gets one key; other names do not.
func TestNameKey(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, h.appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	key := func(first, last string) (k *string) {
		t.Helper()
		if err := postgres.InTenant(ctx, pool, h.tenantA, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select contacts_name_key($1, $2)`, first, last).Scan(&k)
		}); err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, tc := range []struct {
		want  string
		names [][2]string
	}{
		{"andrei ivanov", [][2]string{{"Андрей", "Иванов"}, {"Иванов Андрей", ""}, {"ИВАНОВ", "андрей"}, {"Andrey", "Ivanov"},
			{"Andrei Ivanov", ""}, {"Ivanov", "Andrej"}, {"Андрей Петрович", "Иванов"}}},
		{"aleksandr petrov", [][2]string{{"Александр", "Петров"}, {"Alexander", "Petrov"}, {"Aleksandr", "Petroff"}}},
		{"soloveva ula", [][2]string{{"Юлия", "Соловьёва"}, {"Julia", "Solovyova"}, {"Yuliya", "Solovieva"}}},
		{"dmitri shukin", [][2]string{{"Дмитрий", "Щукин"}, {"Dmitry", "Shchukin"}, {"Dmitriy", "Schukin"}}},
		{"evgeni habibulin", [][2]string{{"Евгений", "Хабибуллин"}, {"Yevgeny", "Khabibullin"}}},
		{"ksena kuznetsova", [][2]string{{"Ксения", "Кузнецова"}, {"Xenia", "Kuznetsova"}}},
		{"nunez ose", [][2]string{{"José", "Núñez"}, {"Jose", "Nunez"}}},
	} {
		for _, n := range tc.names {
			if have := key(n[0], n[1]); have == nil || *have != tc.want {
				t.Errorf("%q %q: have %v, want %q", n[0], n[1], deref(have), tc.want)
			}
		}
	}
	// A first name alone says too little; a female form is another name.
	for _, n := range [][2]string{{"Анна", ""}, {"", "  "}, {"-", "Anna"}} {
		if have := key(n[0], n[1]); have != nil {
			t.Errorf("%q %q: have %q, want none", n[0], n[1], *have)
		}
	}
	if a, b := key("Александр", "Петров"), key("Александра", "Петрова"); *a == *b {
		t.Errorf("Aleksandr and Aleksandra Petrov(a) share %q", *a)
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// pairsOf walks every page of the duplicate list with limit and returns
// the pairs as "a b score reasons", in list order, and the number of pages.
func pairsOf(t *testing.T, h *harness, token string, limit int, name map[string]string) ([]string, int) {
	t.Helper()
	var out []string
	cursor, pages := "", 0
	for ; pages < 100; pages++ {
		r := h.do("GET", fmt.Sprintf("/v1/contacts/duplicates?limit=%d&cursor=%s", limit, url.QueryEscape(cursor)), token, nil).Want(t, http.StatusOK)
		for _, it := range r.Body["items"].([]any) {
			p := it.(map[string]any)
			ids := p["contact_ids"].([]any)
			var reasons []string
			for _, re := range p["reasons"].([]any) {
				m := re.(map[string]any)
				reasons = append(reasons, strings.TrimSuffix(fmt.Sprintf("%s:%v", m["kind"], m["value"]), ":<nil>"))
			}
			pair := []string{name[ids[0].(string)], name[ids[1].(string)]}
			slices.Sort(pair)
			out = append(out, fmt.Sprintf("%s %v %s", strings.Join(pair, "+"), p["score"], strings.Join(reasons, ",")))
		}
		if cursor, _ = r.Body["next_cursor"].(string); cursor == "" {
			return out, pages + 1
		}
	}
	t.Fatal("the duplicate list does not end")
	return nil, 0
}

// The list finds contacts sharing an e-mail or a phone (in any spelling)
// and contacts of one company with one name in Cyrillic or Latin letters;
// each pair once, channel pairs first, with every reason and a score.
func TestDuplicatePairs(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	company := func(name string) string {
		return h.do("POST", "/v1/companies", adm, map[string]any{"name": name}).Want(t, http.StatusCreated).Body["id"].(string)
	}
	acme, other := company("Acme"), company("Другая")
	name := map[string]string{}
	add := func(label string, body map[string]any) {
		t.Helper()
		id := h.do("POST", "/v1/contacts?allow_duplicate=true", adm, body).Want(t, http.StatusCreated).Body["id"].(string)
		name[id] = label
	}
	add("x1", map[string]any{"first_name": "Анна", "emails": []string{"anna@example.ru"}})
	add("x2", map[string]any{"first_name": "Аня", "emails": []string{"ANNA@Example.ru"}})
	add("y1", map[string]any{"first_name": "Олег", "phones": []string{"+7 912 000-00-01"}})
	add("y2", map[string]any{"first_name": "Oleg", "phones": []string{"8 (912) 000 00 01"}})
	add("z1", map[string]any{"first_name": "Андрей", "last_name": "Иванов", "company_id": acme})
	add("z2", map[string]any{"first_name": "Andrei", "last_name": "Ivanov", "company_id": acme})
	add("z3", map[string]any{"first_name": "Ivanov Andrey", "company_id": acme})
	add("w1", map[string]any{"first_name": "Мария", "last_name": "Смирнова", "company_id": acme, "emails": []string{"maria@x.ru"}, "phones": []string{"+7 495 111-22-33"}})
	add("w2", map[string]any{"first_name": "Maria", "last_name": "Smirnova", "company_id": acme, "emails": []string{"maria@x.ru"}, "phones": []string{"+7 495 111 22 33"}})
	// Not duplicates: the same name at another company or at none, another
	// name at the same company.
	add("n1", map[string]any{"first_name": "Andrei", "last_name": "Ivanov", "company_id": other})
	add("n2", map[string]any{"first_name": "Андрей", "last_name": "Иванов"})
	add("n3", map[string]any{"first_name": "Андрей", "last_name": "Петров", "company_id": acme})

	want := []string{
		"x1+x2 0.9 email:anna@example.ru",
		"w1+w2 0.992 email:maria@x.ru,phone:+74951112233,name",
		"y1+y2 0.8 phone:+79120000001",
		"z1+z2 0.6 name",
		"z1+z3 0.6 name",
		"z2+z3 0.6 name",
	}
	have, pages := pairsOf(t, h, adm, 50, name)
	// Channel pairs come first, by the channel; name pairs after them.
	if strings.Join(have[:3], "\n") != strings.Join(want[:3], "\n") || pages != 1 {
		t.Fatalf("have %d pages:\n%s\nwant:\n%s", pages, strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	slices.Sort(have[3:])
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Fatalf("have:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	// Any page size lists the same pairs, each once.
	for _, limit := range []int{1, 2, 4} {
		paged, pages := pairsOf(t, h, adm, limit, name)
		slices.Sort(paged[3:])
		if strings.Join(paged, "\n") != strings.Join(want, "\n") || pages != (len(want)+limit-1)/limit {
			t.Errorf("limit %d: %d pages:\n%s", limit, pages, strings.Join(paged, "\n"))
		}
	}

	// Bad input.
	h.do("GET", "/v1/contacts/duplicates?limit=0", adm, nil).Want(t, http.StatusUnprocessableEntity)
	h.do("GET", "/v1/contacts/duplicates?limit=x", adm, nil).Want(t, http.StatusUnprocessableEntity)
	h.do("GET", "/v1/contacts/duplicates?cursor=!!", adm, nil).Want(t, http.StatusUnprocessableEntity)
	// A well-formed cursor naming no company in a name group.
	forged := httpkit.EncodeCursor(map[string]any{"s": "name", "g": "acme ivanov", "a": uuid.NewString(), "b": uuid.NewString()})
	h.do("GET", "/v1/contacts/duplicates?cursor="+forged, adm, nil).Want(t, http.StatusUnprocessableEntity)
	// A cursor of the contact list is not one of this list.
	next := h.do("GET", "/v1/contacts?limit=1", adm, nil).Want(t, http.StatusOK).Body["next_cursor"].(string)
	r := h.do("GET", "/v1/contacts/duplicates?cursor="+next, adm, nil).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "cursor" {
		t.Fatalf("have %s", r.Raw)
	}

	// Another tenant sees none of them, and its own duplicates only.
	b := h.token(h.tenantB, auth.RoleAdmin)
	if l := h.do("GET", "/v1/contacts/duplicates", b, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("tenant B sees tenant A's duplicates: %s", l.Raw)
	}
	for _, body := range []map[string]any{anna, {"first_name": "Ann", "emails": []string{"anna@example.ru"}}} {
		h.do("POST", "/v1/contacts?allow_duplicate=true", b, body).Want(t, http.StatusCreated)
	}
	if l := h.do("GET", "/v1/contacts/duplicates", b, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 1 {
		t.Fatalf("tenant B's own pair: %s", l.Raw)
	}
	if have, _ := pairsOf(t, h, adm, 50, name); len(have) != len(want) {
		t.Fatalf("tenant B's pair reached tenant A: %v", have)
	}
}

// A caller only gets the pairs whose two contacts it sees.
func TestDuplicatePairsVisibility(t *testing.T) {
	h := start(t)
	tok := func(user, team, role string) string { return h.tokenFor(h.tenantA, user, team, role) }
	rep1, rep2 := tok("rep1", "north", auth.RoleRep), tok("rep2", "south", auth.RoleRep)
	name := map[string]string{}
	add := func(token, label string, body map[string]any) string {
		id := h.do("POST", "/v1/contacts?allow_duplicate=true", token, body).Want(t, http.StatusCreated).Body["id"].(string)
		name[id] = label
		return id
	}
	add(rep1, "a1", map[string]any{"first_name": "A", "emails": []string{"a@x.ru"}})
	add(rep1, "a2", map[string]any{"first_name": "A2", "emails": []string{"a@x.ru"}})
	add(rep1, "b1", map[string]any{"first_name": "B", "phones": []string{"+7 912 345-67-89"}})
	b2 := add(rep2, "b2", map[string]any{"first_name": "B2", "phones": []string{"+79123456789"}})

	for label, tc := range map[string]struct {
		token string
		want  string
	}{
		"rep1 (own pair only)":      {rep1, "a1+a2 0.9 email:a@x.ru"},
		"rep2 (one side of b only)": {rep2, ""},
		"manager north (team)":      {tok("m1", "north", auth.RoleManager), "a1+a2 0.9 email:a@x.ru"},
		"analyst (all)":             {tok("an", "", auth.RoleAnalyst), "a1+a2 0.9 email:a@x.ru\nb1+b2 0.8 phone:+79123456789"},
	} {
		if have, _ := pairsOf(t, h, tc.token, 50, name); strings.Join(have, "\n") != tc.want {
			t.Errorf("%s: have %q, want %q", label, strings.Join(have, "\n"), tc.want)
		}
	}
	// Shared with rep1, b2 makes a pair rep1 sees.
	h.do("PATCH", "/v1/contacts/"+b2, rep2, map[string]any{"shared_with": map[string]any{"users": []string{"rep1"}}}).Want(t, http.StatusOK)
	if have, _ := pairsOf(t, h, rep1, 1, name); strings.Join(have, "\n") != "a1+a2 0.9 email:a@x.ru\nb1+b2 0.8 phone:+79123456789" {
		t.Fatalf("rep1 after the share: %q", have)
	}
}

// A channel too common to walk (a company's info@ on all its people) hides
// no pair: two people of that company with one name are still listed.
func TestDuplicatePairsBesideACommonChannel(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	acme := h.do("POST", "/v1/companies", adm, map[string]any{"name": "Acme"}).Want(t, http.StatusCreated).Body["id"].(string)
	name := map[string]string{}
	for i := range domain.MaxDuplicateGroup + 1 {
		body := map[string]any{"first_name": fmt.Sprintf("Сотрудник%d", i), "emails": []string{"info@acme.ru"}, "company_id": acme}
		label := "staff"
		if i < 2 {
			body["first_name"], body["last_name"] = []string{"Андрей", "Andrei"}[i], []string{"Иванов", "Ivanov"}[i]
			label = fmt.Sprintf("z%d", i+1)
		}
		id := h.do("POST", "/v1/contacts?allow_duplicate=true", adm, body).Want(t, http.StatusCreated).Body["id"].(string)
		name[id] = label
	}
	have, _ := pairsOf(t, h, adm, 50, name)
	if len(have) != 1 || have[0] != "z1+z2 0.96 email:info@acme.ru,name" {
		t.Fatalf("pairs: %v", have)
	}
}
