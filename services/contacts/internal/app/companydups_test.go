package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// wantDuplicateCompany checks a 409 duplicate-company naming one company
// with the keys it holds.
func wantDuplicateCompany(t *testing.T, r testenv.Reply, id string, why ...string) {
	t.Helper()
	r.Want(t, http.StatusConflict)
	dups, _ := r.Body["duplicates"].([]any)
	if !strings.HasSuffix(r.Body["type"].(string), "/duplicate-company") || len(dups) != 1 {
		t.Fatalf("have %s", r.Raw)
	}
	d := dups[0].(map[string]any)
	if d["id"] != id || fmt.Sprint(d["why"]) != fmt.Sprint(why) {
		t.Fatalf("duplicate %v, want %s %v", d, id, why)
	}
}

// A company is told apart as an import tells it apart: by its tax id, or,
// without one, by its name in any case. Creating or changing a company into
// one the tenant has is refused with the duplicate named, unless the client
// insists; a company with a tax id is never a duplicate by name alone.
func TestCompanyDuplicatesAreRefusedUnlessAllowed(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	first := h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка", "tax_id": "7701234567"}).
		Want(t, http.StatusCreated).Body["id"].(string)
	// The same tax id in another spelling, under another name.
	same := map[string]any{"name": "Ромашка-Опт", "tax_id": "7701 234567"}
	wantDuplicateCompany(t, h.do("POST", "/v1/companies", tok, same), first, "company-tax:7701234567")
	// Without a tax id, the name decides, in any case, against companies
	// with or without one.
	wantDuplicateCompany(t, h.do("POST", "/v1/companies", tok, map[string]any{"name": "ооо ромашка"}), first, "company-name:ооо ромашка")
	// A tax id of its own makes another company of the same name.
	h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка", "tax_id": "5001112223"}).Want(t, http.StatusCreated)
	// Another tenant's companies are no duplicates.
	h.do("POST", "/v1/companies", h.token(h.tenantB, auth.RoleRep), same).Want(t, http.StatusCreated)

	// A change into another company's tax id (or name, without one) is
	// refused too, and leaves the company as it was.
	third := h.do("POST", "/v1/companies", tok, map[string]any{"name": "Василёк"}).Want(t, http.StatusCreated).Body["id"].(string)
	wantDuplicateCompany(t, h.do("PATCH", "/v1/companies/"+third, tok, map[string]any{"tax_id": "7701234567"}, "If-Match", `"1"`),
		first, "company-tax:7701234567")
	lutik := h.do("POST", "/v1/companies", tok, map[string]any{"name": "Лютик"}).Want(t, http.StatusCreated).Body["id"].(string)
	wantDuplicateCompany(t, h.do("PATCH", "/v1/companies/"+third, tok, map[string]any{"name": "ЛЮТИК"}), lutik, "company-name:лютик")
	if g := h.do("GET", "/v1/companies/"+third, tok, nil).Want(t, http.StatusOK); g.Body["name"] != "Василёк" || g.Body["version"].(float64) != 1 {
		t.Fatalf("a refused change changed the company: %s", g.Raw)
	}
	// Insisted on, a duplicate is stored.
	h.do("POST", "/v1/companies?allow_duplicate=maybe", tok, same).Want(t, http.StatusUnprocessableEntity)
	second := h.do("POST", "/v1/companies?allow_duplicate=true", tok, same).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("PATCH", "/v1/companies/"+third+"?allow_duplicate=true", tok, map[string]any{"tax_id": "7701234567"}).Want(t, http.StatusOK)
	if n := len(h.do("GET", "/v1/companies?q=7701234567", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)); n != 3 {
		t.Fatalf("%d companies with the tax id, want 3", n)
	}
	// A duplicate kept on purpose still changes what is not its key.
	h.do("PATCH", "/v1/companies/"+second, tok, map[string]any{"industry": "Retail"}).Want(t, http.StatusOK)
	// A name change of a company with a tax id is no duplicate.
	h.do("PATCH", "/v1/companies/"+first, tok, map[string]any{"name": "Лютик"}).Want(t, http.StatusOK)
}

// Concurrent creates of one company make one, whatever the timing.
func TestConcurrentCompanyCreatesMakeOneCompany(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	race := func(bodies ...map[string]any) []int {
		var wg sync.WaitGroup
		statuses := make([]int, len(bodies))
		for i, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = h.do("POST", "/v1/companies", tok, b).Status
			}()
		}
		wg.Wait()
		return statuses
	}
	created := func(statuses []int) int {
		n := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				n++
			case http.StatusConflict:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		return n
	}
	var byTax, byName []map[string]any
	for i := range 8 {
		byTax = append(byTax, map[string]any{"name": fmt.Sprintf("Race %d", i), "tax_id": "RACE-1"})
		byName = append(byName, map[string]any{"name": "Гонка"})
	}
	if s := race(byTax...); created(s) != 1 {
		t.Fatalf("one tax id: statuses %v", s)
	}
	if s := race(byName...); created(s) != 1 {
		t.Fatalf("one name: statuses %v", s)
	}
	if n := h.countRows(h.tenantA, "companies"); n != 2 {
		t.Fatalf("%d companies", n)
	}
}

// A company created through the API is a duplicate for an import, and one
// an import created is a duplicate for the API: one rule for both.
func TestCompanyDuplicatesAgreeWithImports(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	api := h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка", "tax_id": "7701234567"}).
		Want(t, http.StatusCreated).Body["id"].(string)
	r := h.postCSV(tok, "entity=companies&on_duplicate=skip", []byte("name,tax_id\nРомашка-2,7701234567\nООО Василёк,\n"))
	r.Want(t, http.StatusAccepted)
	if done := h.waitImport(tok, r.Body["id"].(string)); counts(done) != "total=2 done=2 created=1 updated=0 skipped=1 failed=0" {
		t.Fatalf("import: %s", done.Raw)
	}
	imported := h.do("GET", "/v1/companies?q=василёк", tok, nil).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)["id"].(string)
	wantDuplicateCompany(t, h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО ВАСИЛЁК"}), imported, "company-name:ооо василёк")
	wantDuplicateCompany(t, h.do("POST", "/v1/companies", tok, map[string]any{"name": "Новое имя", "tax_id": "7701234567"}), api,
		"company-tax:7701234567")
}
