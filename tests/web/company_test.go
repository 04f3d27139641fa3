package web

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/tests/platform"
)

// TestCompaniesInChromium finds a company by search, reads its contacts and
// deals on its card, edits it (and meets a conflict and a field error),
// creates one (meeting the duplicate warning and a field error) and deletes
// it, checking each step through the API; a viewer is offered no change.
func TestCompaniesInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")
	company := func(id string) testenv.Reply {
		t.Helper()
		return p.API(t, "GET", "/v1/companies/"+id, admin, nil, http.StatusOK)
	}

	acme := p.API(t, "POST", "/v1/companies", admin, map[string]any{"name": "Ромашка Веб", "legal_name": "ООО «Ромашка Веб»",
		"tax_id": "7701234561", "industry": "Производство", "website": "romashka-web.ru", "phones": []string{"+7 495 123-45-67"}},
		http.StatusCreated).Str("id")
	other := p.API(t, "POST", "/v1/companies", admin, map[string]any{"name": "Лютик Веб", "tax_id": "7702234562"}, http.StatusCreated).Str("id")
	var staff []string
	for _, c := range []map[string]any{
		{"first_name": "Ирина", "last_name": "Ромашкина", "position": "Директор", "emails": []string{"irina@romashka-web.ru"}, "company_id": acme},
		{"first_name": "Олег", "last_name": "Полевой", "position": "Закупщик", "phones": []string{"+7 495 123-45-68"}, "company_id": acme},
	} {
		staff = append(staff, p.API(t, "POST", "/v1/contacts", admin, c, http.StatusCreated).Str("id"))
	}
	elsewhere := p.API(t, "POST", "/v1/contacts", admin, map[string]any{"first_name": "Лев", "last_name": "Лютиков",
		"emails": []string{"lev@lutik-web.ru"}, "company_id": other}, http.StatusCreated).Str("id")
	// A deal with the company (the sales service may learn of the company a moment later).
	var deal string
	testenv.Eventually(t, "a deal with the company", func() bool {
		r := testenv.Call(t, "POST", p.Gateway+"/v1/deals", admin, map[string]any{"title": "Поставка ромашек", "amount": 1250000, "currency": "RUB", "company_id": acme})
		deal = r.Str("id")
		return r.Status == http.StatusCreated
	})

	ctx := browsertest.New(t)
	chromedp.ListenTarget(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response.Status >= 400 {
			t.Logf("page got %d from %s", r.Response.Status, r.Response.URL)
		}
	})
	p.SignIn(t, ctx, "/companies", "demo", "admin", "", "team-1")
	row := func(id string) string { return fmt.Sprintf(`[data-testid="company-row"][data-id=%q]`, id) }

	if !t.Run("search the list and open the company", func(t *testing.T) {
		browsertest.Run(t, ctx, "the list", chromedp.WaitVisible(row(acme), chromedp.ByQuery), chromedp.WaitVisible(row(other), chromedp.ByQuery))
		if r := text(t, ctx, row(acme)); !strings.Contains(r, "7701234561") || !strings.Contains(r, "Производство") || !strings.Contains(r, "romashka-web.ru") {
			t.Fatalf("the row shows %q, want its tax id, industry and website", r)
		}
		browsertest.Axe(t, ctx, "companies")
		browsertest.Screenshot(t, ctx, "company-list")

		browsertest.Run(t, ctx, "search by tax id", chromedp.SendKeys(`[data-testid="company-search"]`, "77012345", chromedp.ByQuery))
		browsertest.Until(t, ctx, "only the company the search finds", fmt.Sprintf(`(() => {
			const rows = [...document.querySelectorAll('[data-testid="company-row"]')];
			return rows.length === 1 && rows[0].dataset.id === %q;
		})()`, acme))
		if href := browsertest.Eval[string](t, ctx, "export link", `document.querySelector('[data-testid="export-csv"]').getAttribute('href')`); href != "/v1/companies/export?q=77012345" {
			t.Fatalf("the export link is %q, want the search's", href)
		}
		browsertest.Screenshot(t, ctx, "company-search")

		browsertest.Run(t, ctx, "open the card", browsertest.Click(row(acme)),
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="company-card"][data-id=%q] [data-testid="company-details"]`, acme), chromedp.ByQuery),
			platform.Ready())
		if h := text(t, ctx, `[data-testid="company-card"] h1`); h != "Ромашка Веб" {
			t.Fatalf("the card's heading is %q", h)
		}
		browsertest.Until(t, ctx, "the company's contacts and deal", fmt.Sprintf(`(() => {
			const ids = [...document.querySelectorAll('[data-testid="company-contact"]')].map((a) => a.dataset.id).sort().join(',');
			return ids === %q && !!document.querySelector('[data-testid="company-deal"][data-id=%q]');
		})()`, strings.Join(slices.Sorted(slices.Values(staff)), ","), deal))
		if browsertest.Exists(t, ctx, fmt.Sprintf(`[data-testid="company-contact"][data-id=%q]`, elsewhere)) {
			t.Fatal("the card lists another company's contact")
		}
		if href := browsertest.Eval[string](t, ctx, "contact link", fmt.Sprintf(`document.querySelector('[data-testid="company-contact"][data-id=%q]').getAttribute('href')`, staff[0])); href != "/contacts/"+staff[0] {
			t.Fatalf("the contact links to %q", href)
		}
		if d := text(t, ctx, `[data-testid="company-deals"]`); !strings.Contains(d, "Поставка ромашек") || !strings.Contains(digits(d), "1250000") {
			t.Fatalf("the deals panel shows %q", d)
		}
		browsertest.Axe(t, ctx, "company card")
		browsertest.Screenshot(t, ctx, "company-card")
	}) {
		return
	}

	if !t.Run("edit the industry", func(t *testing.T) {
		browsertest.Run(t, ctx, "open the form", browsertest.Click(`[data-testid="company-edit"]`), chromedp.WaitVisible(`#ce-industry`, chromedp.ByQuery))
		browsertest.Axe(t, ctx, "company edit form")
		browsertest.Screenshot(t, ctx, "company-edit")
		browsertest.Run(t, ctx, "change and save", retype(`#ce-industry`, "Цветоводство"), browsertest.Click(`[data-testid="company-update"]`),
			chromedp.WaitVisible(`[data-testid="company-saved"]`, chromedp.ByQuery))
		if got := company(acme).Str("industry"); got != "Цветоводство" {
			t.Fatalf("industry after the edit = %q", got)
		}
		if got := text(t, ctx, `[data-testid="company-details"] dd[data-field="industry"]`); got != "Цветоводство" {
			t.Fatalf("the card shows the industry %q", got)
		}
	}) {
		return
	}

	if !t.Run("someone else's change meanwhile: a conflict that keeps what was typed", func(t *testing.T) {
		browsertest.Run(t, ctx, "open the form", browsertest.Click(`[data-testid="company-edit"]`), chromedp.WaitVisible(`#ce-industry`, chromedp.ByQuery))
		p.API(t, "PATCH", "/v1/companies/"+acme, admin, map[string]any{"website": "romashka-api.ru"}, http.StatusOK)
		browsertest.Run(t, ctx, "save over it", retype(`#ce-industry`, "Садоводство"), browsertest.Click(`[data-testid="company-update"]`),
			chromedp.WaitVisible(`[data-testid="conflict-notice"]`, chromedp.ByQuery))
		if n := text(t, ctx, `[data-testid="conflict-notice"]`); !strings.Contains(n, "Сайт") {
			t.Fatalf("the conflict notice does not say what they changed: %q", n)
		}
		var typed, site string
		browsertest.Run(t, ctx, "the form's values", chromedp.Value(`#ce-industry`, &typed, chromedp.ByQuery), chromedp.Value(`#ce-website`, &site, chromedp.ByQuery))
		if typed != "Садоводство" || site != "https://romashka-api.ru" {
			t.Fatalf("after the conflict the form holds industry %q (want what was typed) and website %q (want theirs)", typed, site)
		}
		if got := company(acme).Str("industry"); got != "Цветоводство" {
			t.Fatalf("the refused save changed the industry to %q", got)
		}
		browsertest.Screenshot(t, ctx, "company-conflict")
		browsertest.Run(t, ctx, "save again", browsertest.Click(`[data-testid="company-update"]`), chromedp.WaitVisible(`[data-testid="company-saved"]`, chromedp.ByQuery))
		if c := company(acme); c.Str("industry") != "Садоводство" || c.Str("website") != "https://romashka-api.ru" {
			t.Fatalf("after saving again: industry %q, website %q", c.Str("industry"), c.Str("website"))
		}
	}) {
		return
	}

	if !t.Run("an invalid tax id is named under its field", func(t *testing.T) {
		browsertest.Run(t, ctx, "a bad tax id", browsertest.Click(`[data-testid="company-edit"]`), chromedp.WaitVisible(`#ce-tax_id`, chromedp.ByQuery),
			retype(`#ce-tax_id`, "77/01"), browsertest.Click(`[data-testid="company-update"]`),
			chromedp.WaitVisible(`[data-testid="field-error"][data-field="tax_id"]`, chromedp.ByQuery))
		if !browsertest.Eval[bool](t, ctx, "marked invalid", `document.querySelector('#ce-tax_id').getAttribute('aria-invalid') === 'true'`) {
			t.Fatal("the tax id is not marked invalid")
		}
		if n := browsertest.Eval[int](t, ctx, "errors", `document.querySelectorAll('[data-testid="field-error"]').length`); n != 1 {
			t.Fatalf("%d field errors, want the tax id's alone", n)
		}
		if msg := text(t, ctx, `[data-testid="field-error"][data-field="tax_id"]`); !strings.Contains(msg, "цифры") {
			t.Fatalf("the tax id's error says %q", msg)
		}
		browsertest.Screenshot(t, ctx, "company-field-error")
		if got := company(acme).Str("tax_id"); got != "7701234561" {
			t.Fatalf("the refused tax id was stored: %q", got)
		}
		browsertest.Run(t, ctx, "cancel", browsertest.Click(`[data-testid="company-edit-cancel"]`), chromedp.WaitVisible(`[data-testid="company-edit"]`, chromedp.ByQuery))
	}) {
		return
	}

	if !t.Run("a company with contacts is not deleted", func(t *testing.T) {
		browsertest.Run(t, ctx, "delete", browsertest.Click(`[data-testid="company-delete"]`), browsertest.Click(`[data-testid="company-delete-confirm"]`),
			chromedp.WaitVisible(`[data-testid="company-delete-error"]`, chromedp.ByQuery))
		if msg := text(t, ctx, `[data-testid="company-delete-error"]`); !strings.Contains(msg, "контакты") {
			t.Fatalf("the refusal says %q, not why", msg)
		}
		company(acme)
	}) {
		return
	}

	var created string
	if !t.Run("create a company: a duplicate, a field error, then saved", func(t *testing.T) {
		browsertest.Run(t, ctx, "the new-company form", chromedp.Click(`[data-testid="nav-companies"]`, chromedp.ByQuery), platform.Ready(),
			browsertest.Click(`[data-testid="company-new"]`), chromedp.WaitVisible(`input[name="name"]`, chromedp.ByQuery),
			chromedp.SendKeys(`input[name="name"]`, "Василёк Веб", chromedp.ByQuery),
			chromedp.SendKeys(`input[name="tax_id"]`, "7701234561", chromedp.ByQuery),
			chromedp.SendKeys(`input[name="website"]`, "vasilek.example", chromedp.ByQuery),
			chromedp.SendKeys(`input[name="emails"]`, "info@vasilek.example", chromedp.ByQuery),
			browsertest.Click(`[data-testid="company-save"]`),
			chromedp.WaitVisible(`[data-testid="duplicate-warning"]`, chromedp.ByQuery))
		if w := text(t, ctx, `[data-testid="duplicate-warning"]`); !strings.Contains(w, "Ромашка Веб") || !strings.Contains(w, "7701234561") {
			t.Fatalf("the duplicate warning does not name the company with that tax id: %q", w)
		}
		browsertest.Axe(t, ctx, "new company form")
		browsertest.Screenshot(t, ctx, "company-new-duplicate")

		// The API checks the values before it looks for duplicates.
		browsertest.Run(t, ctx, "another tax id, a bad e-mail", retype(`input[name="tax_id"]`, "7703234563"),
			retype(`input[name="emails"]`, "info@vasilek.example, не почта"), browsertest.Click(`[data-testid="company-save"]`),
			chromedp.WaitVisible(`[data-testid="field-error"][data-field="emails"]`, chromedp.ByQuery))
		if msg := text(t, ctx, `[data-testid="field-error"][data-field="emails"]`); !strings.Contains(msg, "не почта") {
			t.Fatalf("the e-mail's error says %q", msg)
		}
		if browsertest.Exists(t, ctx, `[data-testid="duplicate-warning"]`) {
			t.Fatal("the duplicate warning stayed for another tax id")
		}
		browsertest.Screenshot(t, ctx, "company-new-field-error")

		browsertest.Run(t, ctx, "a good e-mail", retype(`input[name="emails"]`, "info@vasilek.example, sales@vasilek.example"), browsertest.Click(`[data-testid="company-save"]`),
			chromedp.WaitVisible(`[data-testid="company-details"]`, chromedp.ByQuery), platform.Ready())
		var loc string
		browsertest.Run(t, ctx, "where", chromedp.Location(&loc))
		created = loc[strings.LastIndex(loc, "/")+1:]
		c := company(created)
		if c.Str("name") != "Василёк Веб" || c.Str("tax_id") != "7703234563" || c.Str("website") != "https://vasilek.example" ||
			fmt.Sprint(c.Body["emails"]) != "[info@vasilek.example sales@vasilek.example]" || c.Str("owner_id") != "admin@demo" {
			t.Fatalf("the company created: %s", c.Raw)
		}
		browsertest.Screenshot(t, ctx, "company-created")
	}) {
		return
	}

	if !t.Run("delete the new company", func(t *testing.T) {
		browsertest.Run(t, ctx, "delete", browsertest.Click(`[data-testid="company-delete"]`), chromedp.WaitVisible(`[data-testid="company-delete-confirm"]`, chromedp.ByQuery))
		browsertest.Screenshot(t, ctx, "company-delete-confirm")
		browsertest.Run(t, ctx, "confirm", browsertest.Click(`[data-testid="company-delete-confirm"]`), chromedp.WaitVisible(row(acme), chromedp.ByQuery))
		p.API(t, "GET", "/v1/companies/"+created, admin, nil, http.StatusNotFound)
		if browsertest.Exists(t, ctx, row(created)) {
			t.Fatal("the deleted company is still listed")
		}
	}) {
		return
	}

	if !t.Run("the list pages by cursor as it scrolls, the search taken from the address", func(t *testing.T) {
		for i := range 60 {
			p.API(t, "POST", "/v1/companies", admin, map[string]any{"name": fmt.Sprintf("Пакет %02d", i)}, http.StatusCreated)
		}
		foot := `document.querySelector('.list-foot').textContent.trim()`
		browsertest.Run(t, ctx, "search from the address", chromedp.Navigate(p.Gateway+"/companies?q=Пакет"), platform.Ready(),
			chromedp.WaitVisible(`[data-testid="company-row"]`, chromedp.ByQuery))
		if got := browsertest.Eval[string](t, ctx, "the first page", foot); got != "Показано: 50, ниже есть ещё" {
			t.Fatalf("after the first page the list says %q", got)
		}
		if v := browsertest.Eval[string](t, ctx, "search box", `document.querySelector('[data-testid="company-search"]').value`); v != "Пакет" {
			t.Fatalf("the search box holds %q", v)
		}
		browsertest.EvalInto(t, ctx, "scroll to the end", `(() => { const l = document.querySelector('[data-testid="company-list"]'); l.scrollTop = l.scrollHeight; return true; })()`, nil)
		browsertest.Until(t, ctx, "the next page", foot+` === 'Показано: 60'`)
		if browsertest.Exists(t, ctx, row(acme)) {
			t.Fatal("the search lists a company it does not find")
		}
	}) {
		return
	}

	t.Run("a department is read only, without the export", func(t *testing.T) {
		north := p.API(t, "POST", "/v1/companies", p.Token("demo-north", "admin"), map[string]any{"name": "Северная Веб"}, http.StatusCreated).Str("id")
		browsertest.Run(t, ctx, "switch to the department", chromedp.Navigate(p.Gateway+"/companies"), platform.Ready(),
			chromedp.SetValue(`[data-testid="department-switch"]`, tenancy.LocalID("demo-north").String(), chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="department-notice"]`, chromedp.ByQuery), platform.Ready(),
			chromedp.WaitVisible(row(north), chromedp.ByQuery))
		if browsertest.Exists(t, ctx, `[data-testid="company-new"], [data-testid="export-csv"]`) {
			t.Fatal("a department's reader is offered a new company or the export")
		}
		browsertest.Run(t, ctx, "its card", browsertest.Click(row(north)), chromedp.WaitVisible(`[data-testid="company-details"]`, chromedp.ByQuery), platform.Ready())
		if browsertest.Exists(t, ctx, `[data-testid="company-edit"], [data-testid="company-delete"]`) {
			t.Fatal("a department's reader is offered to edit or delete its company")
		}
		browsertest.Run(t, ctx, "back to the own tenant", chromedp.SetValue(`[data-testid="department-switch"]`, "", chromedp.ByQuery),
			chromedp.WaitNotPresent(`[data-testid="department-notice"]`, chromedp.ByQuery), platform.Ready())
	})

	t.Run("a viewer reads and is offered no change", func(t *testing.T) {
		viewer := browsertest.New(t)
		p.SignIn(t, viewer, "/companies", "demo", "viewer", "view1@demo", "team-1")
		browsertest.Run(t, viewer, "the viewer's list", chromedp.WaitVisible(row(acme), chromedp.ByQuery))
		if browsertest.Exists(t, viewer, `[data-testid="company-new"]`) {
			t.Fatal("a viewer is offered a new company")
		}
		browsertest.Run(t, viewer, "the card", browsertest.Click(row(acme)),
			chromedp.WaitVisible(`[data-testid="company-details"]`, chromedp.ByQuery), platform.Ready())
		if browsertest.Exists(t, viewer, `[data-testid="company-edit"], [data-testid="company-delete"]`) {
			t.Fatal("a viewer is offered to edit or delete the company")
		}
		browsertest.Screenshot(t, viewer, "company-card-viewer")
	})
}
