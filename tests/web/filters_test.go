package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/tests/platform"
)

// filterRows are the ids of the contacts the list shows, in its order: the
// list is windowed, so it is scrolled through to the end. nil while the list
// is loading.
const filterRows = `(async () => {
	const list = document.querySelector('[data-testid="contact-list"]');
	const busy = () => list.getAttribute('aria-busy') === 'true';
	if (busy()) return null;
	const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
	const seen = new Map();
	list.scrollTop = 0;
	await frame();
	for (let i = 0; i < 200; i++) {
		for (const r of list.querySelectorAll('[data-testid="contact-row"]')) seen.set(Number(r.dataset.index), r.dataset.id);
		if (list.scrollTop + list.clientHeight >= list.scrollHeight - 2) break;
		list.scrollTop += list.clientHeight;
		await frame();
	}
	list.scrollTop = 0;
	await frame();
	if (busy()) return null;
	return [...seen.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
})()`

// TestContactFiltersInChromium filters and sorts the contacts list by each
// of its filters and compares what it shows with the API's answer to the
// same query; the filters live in the URL (a reload keeps them) and go into
// the export.
func TestContactFiltersInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")
	reps := []string{admin, p.UserToken("demo", "rep", "rep1@demo", "team-1"), p.UserToken("demo", "rep", "rep2@demo", "team-2")}

	p.API(t, "POST", "/v1/fields", admin, map[string]any{"entity": "contact", "key": "segment", "label": "Сегмент", "type": "enum",
		"options": []map[string]string{{"value": "smb", "label": "Малый бизнес"}, {"value": "enterprise", "label": "Крупный бизнес"}}}, http.StatusCreated)
	company := p.API(t, "POST", "/v1/companies", admin, `{"name":"Ромашка Фильтр"}`, http.StatusCreated).Str("id")
	var sources []string
	for _, s := range p.API(t, "GET", "/v1/lead-sources", admin, "", http.StatusOK).Body["items"].([]any) {
		sources = append(sources, s.(map[string]any)["value"].(string))
	}
	if len(sources) < 4 {
		t.Fatalf("the tenant has lead sources %v", sources)
	}

	// 30 people: three owners, tags, every lifecycle stage, four sources, one
	// company and a segment, mixed so that no two filters pick the same set.
	firsts := []string{"Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Зоя", "Игорь", "Кира"}
	// Rep1's enterprise clients (1, 13, 25) come in another order by name
	// (Adams, Müller, Яковлев) than by creation.
	lasts := []string{"Петрова", "Яковлев", "Сидорова", "Абрамов", "Орлова", "Carter", "Букин", "Zimin", "Носова", "Ильина", "Müller", "Гусев", "Baker", "Adams", "Лаптев"}
	stages := []string{"lead", "prospect", "customer", "churned", "archived"}
	for i := range 30 {
		c := map[string]any{
			"first_name": firsts[i%len(firsts)], "last_name": lasts[i%len(lasts)],
			"emails":          []string{fmt.Sprintf("filter%02d@example.ru", i)},
			"lifecycle_stage": stages[i%5], "source": sources[(i/3)%4],
		}
		switch {
		case i%6 == 0:
			c["tags"] = []string{"VIP", "опт"}
		case i%4 == 1:
			c["tags"] = []string{"vip"}
		case i%2 == 0:
			c["tags"] = []string{"опт"}
		}
		if i%7 == 2 {
			c["company_id"] = company
		}
		if i%4 < 2 {
			c["custom"] = map[string]any{"segment": []string{"smb", "enterprise"}[i%4]}
		}
		p.API(t, "POST", "/v1/contacts", reps[i%3], c, http.StatusCreated)
	}

	// want is the API's answer to a query of GET /v1/contacts: the ids in order.
	want := func(t *testing.T, query string) []string {
		t.Helper()
		page := p.API(t, "GET", "/v1/contacts?limit=200&"+query, admin, "", http.StatusOK)
		if page.Body["next_cursor"] != nil {
			t.Fatalf("more than a page for %s", query)
		}
		ids := []string{}
		for _, c := range page.Body["items"].([]any) {
			ids = append(ids, c.(map[string]any)["id"].(string))
		}
		return ids
	}

	ctx := browsertest.New(t)
	p.SignIn(t, ctx, "/contacts", "demo", "admin", "", "team-1")
	me := browsertest.Eval[string](t, ctx, "who am I", `fetch('/auth/session').then((r) => r.json()).then((s) => s.user)`)

	// shows waits until the list shows exactly the contacts the API answers
	// for query, in its order, and has exactly chips chips.
	shows := func(t *testing.T, what, query string, chips int) []string {
		t.Helper()
		ids := want(t, query)
		var have []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			have = nil
			browsertest.EvalInto(t, ctx, "rows", filterRows, &have)
			n := browsertest.Eval[int](t, ctx, "chips", `document.querySelectorAll('[data-testid="filter-chip"]').length`)
			if have != nil && slices.Equal(have, ids) && n == chips {
				return ids
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the list shows %d contacts %v and %d chips; the API answers %s with %d %v, and %d chips are wanted",
					what, len(have), have, n, query, len(ids), ids, chips)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	urlHas := func(t *testing.T, what string, want ...string) url.Values {
		t.Helper()
		q, err := url.ParseQuery(strings.TrimPrefix(browsertest.Eval[string](t, ctx, "url", `location.search`), "?"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(want); i += 2 {
			if q.Get(want[i]) != want[i+1] {
				t.Fatalf("%s: the URL has %s=%q, want %q (%v)", what, want[i], q.Get(want[i]), want[i+1], q)
			}
		}
		return q
	}
	// clear clears the filters; the list shows what query (the search and sort) asks.
	clear := func(t *testing.T, query string) {
		t.Helper()
		browsertest.Run(t, ctx, "clear the filters", browsertest.Click(`[data-testid="filter-clear"]`))
		shows(t, "cleared", query, 0)
	}

	all := shows(t, "no filter", "", 0)
	if len(all) != 30 {
		t.Fatalf("the list shows %d contacts, want the 30 made", len(all))
	}
	if n := text(t, ctx, `.list-foot`); !strings.Contains(n, "30") {
		t.Fatalf("the count says %q", n)
	}
	browsertest.Run(t, ctx, "open the filters", browsertest.Click(`[data-testid="filter-toggle"]`),
		chromedp.WaitVisible(`[data-testid="filter-owner"]`, chromedp.ByQuery))

	t.Run("owner: me, then someone typed", func(t *testing.T) {
		browsertest.Run(t, ctx, "me", choose(`[data-testid="filter-owner"]`, "me"))
		mine := shows(t, "owner me", "owner_id="+url.QueryEscape(me), 1)
		if len(mine) != 10 {
			t.Fatalf("me (%s) owns %d of the contacts shown, want 10", me, len(mine))
		}
		urlHas(t, "owner me", "owner", "me")
		browsertest.Run(t, ctx, "someone else", choose(`[data-testid="filter-owner"]`, "other"),
			chromedp.WaitVisible(`[data-testid="filter-owner-id"]`, chromedp.ByQuery),
			chromedp.SendKeys(`[data-testid="filter-owner-id"]`, "rep2@demo", chromedp.ByQuery))
		shows(t, "owner rep2", "owner_id=rep2%40demo", 1)
		urlHas(t, "owner rep2", "owner", "rep2@demo")
		// The chip's button removes the filter.
		browsertest.Run(t, ctx, "remove the chip", browsertest.Click(`[data-testid="filter-chip"] button`))
		shows(t, "owner chip removed", "", 0)
		if v := browsertest.Eval[string](t, ctx, "owner", `document.querySelector('[data-testid="filter-owner"]').value`); v != "" {
			t.Fatalf("after the chip went the owner filter is %q", v)
		}
	})

	t.Run("tag, stage, source, company, custom field", func(t *testing.T) {
		browsertest.Run(t, ctx, "tag", chromedp.SendKeys(`[data-testid="filter-tag"]`, "VIP", chromedp.ByQuery))
		shows(t, "tag", "tag=vip", 1)
		urlHas(t, "tag", "tag", "VIP")
		clear(t, "")
		if v := browsertest.Eval[string](t, ctx, "tag box", `document.querySelector('[data-testid="filter-tag"]').value`); v != "" {
			t.Fatalf("the tag box keeps %q after clearing", v)
		}

		browsertest.Run(t, ctx, "stage", choose(`[data-testid="filter-stage"]`, "customer"))
		shows(t, "stage", "lifecycle_stage=customer", 1)
		urlHas(t, "stage", "stage", "customer")
		// A change on top of a change still loading: the last one wins.
		browsertest.Run(t, ctx, "two stages at once", choose(`[data-testid="filter-stage"]`, "churned"), choose(`[data-testid="filter-stage"]`, "lead"))
		shows(t, "the last stage", "lifecycle_stage=lead", 1)
		clear(t, "")

		browsertest.Run(t, ctx, "source", choose(`[data-testid="filter-source"]`, sources[1]))
		shows(t, "source", "source="+sources[1], 1)
		clear(t, "")

		// The company picker searches as one types and is worked with the keyboard.
		browsertest.Run(t, ctx, "company", chromedp.SendKeys(`[data-testid="filter-company"]`, "ромаш", chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="filter-company-option"][data-id=%q]`, company), chromedp.ByQuery))
		browsertest.Axe(t, ctx, "the company picker open")
		browsertest.Screenshot(t, ctx, "filters-0-company-picker")
		browsertest.Run(t, ctx, "choose it", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
		shows(t, "company", "company_id="+company, 1)
		urlHas(t, "company", "company", company)
		if c := text(t, ctx, `[data-testid="filter-chip"]`); !strings.Contains(c, "Ромашка Фильтр") {
			t.Fatalf("the company's chip says %q", c)
		}
		clear(t, "")

		browsertest.Run(t, ctx, "segment", choose(`[data-testid="filter-custom-segment"]`, "enterprise"))
		shows(t, "segment", "custom.segment=enterprise", 1)
		if c := text(t, ctx, `[data-testid="filter-chip"]`); !strings.Contains(c, "Крупный бизнес") {
			t.Fatalf("the segment's chip says %q", c)
		}
		clear(t, "")
	})

	t.Run("created dates", func(t *testing.T) {
		// The days are the browser's: a day starts at its midnight.
		var day struct{ Today, Yesterday, TodayStart, TomorrowStart string }
		browsertest.EvalInto(t, ctx, "days", `(() => {
			const d = new Date(), f = (x) => x.getFullYear() + '-' + String(x.getMonth() + 1).padStart(2, '0') + '-' + String(x.getDate()).padStart(2, '0');
			const at = (n) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
			return {Today: f(d), Yesterday: f(at(-1)), TodayStart: at(0).toISOString(), TomorrowStart: at(1).toISOString()};
		})()`, &day)
		browsertest.SetValue(t, ctx, `[data-testid="filter-created-from"]`, day.Today)
		if n := len(shows(t, "created today", "created_from="+url.QueryEscape(day.TodayStart), 1)); n != 30 {
			t.Fatalf("created today: %d", n)
		}
		browsertest.SetValue(t, ctx, `[data-testid="filter-created-to"]`, day.Yesterday)
		shows(t, "created from today to yesterday", "created_from="+url.QueryEscape(day.TodayStart)+"&created_to="+url.QueryEscape(day.TodayStart), 1)
		browsertest.Until(t, ctx, "the list says nothing matches", `!!document.querySelector('[data-testid="contact-list"] .empty')`)
		browsertest.SetValue(t, ctx, `[data-testid="filter-created-to"]`, day.Today)
		shows(t, "created today, both days", "created_from="+url.QueryEscape(day.TodayStart)+"&created_to="+url.QueryEscape(day.TomorrowStart), 1)
		clear(t, "")
	})

	t.Run("two filters, kept by a reload, sorted by name, exported", func(t *testing.T) {
		browsertest.Run(t, ctx, "owner rep1 and segment enterprise",
			choose(`[data-testid="filter-owner"]`, "other"),
			chromedp.WaitVisible(`[data-testid="filter-owner-id"]`, chromedp.ByQuery),
			chromedp.SendKeys(`[data-testid="filter-owner-id"]`, "rep1@demo", chromedp.ByQuery),
			choose(`[data-testid="filter-custom-segment"]`, "enterprise"))
		const both = "owner_id=rep1%40demo&custom.segment=enterprise"
		ids := shows(t, "owner and segment", both, 2)
		if len(ids) != 3 {
			t.Fatalf("the two filters leave %d contacts, want rep1's 3 enterprise clients", len(ids))
		}
		urlHas(t, "two filters", "owner", "rep1@demo", "custom.segment", "enterprise")

		browsertest.Run(t, ctx, "reload", chromedp.Reload(), platform.Ready())
		shows(t, "after a reload", both, 2)
		if v := browsertest.Eval[string](t, ctx, "owner id box", `document.querySelector('[data-testid="filter-owner-id"]')?.value ?? ''`); v != "rep1@demo" {
			t.Fatalf("after a reload the owner box holds %q", v)
		}

		browsertest.Run(t, ctx, "sort by name", choose(`[data-testid="sort"]`, "name"))
		sorted := shows(t, "sorted by name", both+"&sort=name", 2)
		urlHas(t, "sorted", "sort", "name")
		if slices.Equal(sorted, ids) {
			t.Fatalf("sorting by name kept the order of creation %v", ids)
		}
		// The order is the names' (last, then first, folded), not only the API's.
		fold := strings.NewReplacer("ü", "u", "ё", "е")
		page := p.API(t, "GET", "/v1/contacts?limit=200&"+both+"&sort=name", admin, "", http.StatusOK)
		var names []string
		for _, c := range page.Body["items"].([]any) {
			m := c.(map[string]any)
			names = append(names, fold.Replace(strings.ToLower(m["last_name"].(string)+"\x00"+m["first_name"].(string))))
		}
		if !slices.IsSorted(names) {
			t.Fatalf("sorted by name: %q", names)
		}
		rows := browsertest.Eval[[]string](t, ctx, "names", `[...document.querySelectorAll('[data-testid="contact-row"] .name')].map((n) => n.textContent)`)
		if len(rows) != 3 || !strings.HasSuffix(rows[0], "Adams") || !strings.HasSuffix(rows[1], "Müller") || !strings.HasSuffix(rows[2], "Яковлев") {
			t.Fatalf("sorted by name the rows are %q", rows)
		}

		// The export carries the same filters and sort, and holds exactly those contacts.
		var ex struct {
			Href, Body string
			Status     int
		}
		browsertest.EvalInto(t, ctx, "export", `(async () => {
			const a = document.querySelector('[data-testid="export-csv"]');
			const r = await fetch(a.href);
			return {Href: a.href, Status: r.status, Body: await r.text()};
		})()`, &ex)
		u, err := url.Parse(ex.Href)
		if err != nil {
			t.Fatal(err)
		}
		if q := u.Query(); u.Path != "/v1/contacts/export" || q.Get("owner_id") != "rep1@demo" || q.Get("custom.segment") != "enterprise" || q.Get("sort") != "name" || ex.Status != http.StatusOK {
			t.Fatalf("the export link %s answered %d", ex.Href, ex.Status)
		}
		recs, err := csv.NewReader(strings.NewReader(ex.Body)).ReadAll()
		if err != nil || len(recs) < 1 || recs[0][0] != "id" {
			t.Fatalf("the export is no CSV of contacts (%v):\n%s", err, ex.Body)
		}
		var exported []string
		for _, r := range recs[1:] {
			exported = append(exported, r[0])
		}
		if !slices.Equal(exported, sorted) {
			t.Fatalf("the export holds %v, the list %v", exported, sorted)
		}
		if h := browsertest.Eval[string](t, ctx, "excel link", `document.querySelector('[data-testid="export-excel"]').href`); !strings.Contains(h, "format=excel") || !strings.Contains(h, "custom.segment=enterprise") {
			t.Fatalf("the Excel link is %s", h)
		}

		browsertest.Axe(t, ctx, "contacts with filters")
		browsertest.Screenshot(t, ctx, "filters-1-two-filters-by-name")

		// Clearing keeps the list's order.
		clear(t, "sort=name")
		urlHas(t, "cleared", "sort", "name", "owner", "", "custom.segment", "")
		browsertest.Screenshot(t, ctx, "filters-2-cleared")
	})

	t.Run("the sort's labels in both languages", func(t *testing.T) {
		label := `document.querySelector('[data-testid="sort"] option[value="name"]').textContent`
		ru := browsertest.Eval[string](t, ctx, "label", label)
		browsertest.Run(t, ctx, "English", choose(`[data-testid="lang-switch"]`, "en"))
		browsertest.Until(t, ctx, "English labels", `document.documentElement.lang === 'en'`)
		en := browsertest.Eval[string](t, ctx, "label", label)
		if ru == en || ru == "" || en == "" || !strings.Contains(en, "Name") || !strings.Contains(ru, "Имя") {
			t.Fatalf("the sort by name reads %q in Russian and %q in English", ru, en)
		}
		browsertest.Run(t, ctx, "a filter in English", chromedp.WaitVisible(`[data-testid="filter-stage"]`, chromedp.ByQuery), choose(`[data-testid="filter-stage"]`, "prospect"))
		shows(t, "stage in English", "lifecycle_stage=prospect&sort=name", 1)
		if c := text(t, ctx, `[data-testid="filter-chip"] span`); c != "Lifecycle stage: Prospect" {
			t.Fatalf("the chip reads %q in English", c)
		}
		browsertest.Screenshot(t, ctx, "filters-3-english")
	})
}
