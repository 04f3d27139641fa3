package web

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// page drives one browser tab of the administration.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (g page) until(what, js string) { g.t.Helper(); browsertest.Until(g.t, g.ctx, what, js) }
func (g page) eval(what, js string, res any) {
	g.t.Helper()
	browsertest.EvalInto(g.t, g.ctx, what, js, res)
}
func (g page) has(sel string) bool   { g.t.Helper(); return browsertest.Exists(g.t, g.ctx, sel) }
func (g page) set(sel, value string) { g.t.Helper(); browsertest.SetValue(g.t, g.ctx, sel, value) }
func (g page) click(sel string) {
	g.t.Helper()
	browsertest.Run(g.t, g.ctx, "click "+sel, browsertest.Click(sel))
}
func (g page) shot(name string) { g.t.Helper(); browsertest.Screenshot(g.t, g.ctx, name) }

// section opens a section from the in-page navigation and waits for its data.
func (g page) section(id, panel string) {
	g.t.Helper()
	g.click(fmt.Sprintf(`[data-testid="admin-section-%s"]`, id))
	g.until("the "+id+" section", fmt.Sprintf(`location.search === '?section=%s' && !!document.querySelector('[data-testid="%s"]') && document.body.dataset.ready === '1'`, id, panel))
}

// rowWith is a JS expression: the first element of sel whose text holds s.
func rowWith(sel, s string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].find((r) => r.textContent.includes(%q))`, sel, s)
}

func TestAdministrationInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")
	items := func(r testenv.Reply) []map[string]any {
		var out []map[string]any
		list, _ := r.Body["items"].([]any)
		for _, x := range list {
			out = append(out, x.(map[string]any))
		}
		return out
	}
	firstPipeline := func() map[string]any {
		ps := items(p.API(t, "GET", "/v1/pipelines", admin, "", http.StatusOK))
		if len(ps) == 0 {
			t.Fatal("the demo tenant has no pipeline")
		}
		return ps[0]
	}
	stages := func(pipe map[string]any) []map[string]any {
		var out []map[string]any
		for _, s := range pipe["stages"].([]any) {
			out = append(out, s.(map[string]any))
		}
		return out
	}

	ctx := browsertest.New(t)
	p.SignIn(t, ctx, "/admin", "demo", "admin", "", "team-1")

	t.Run("pipelines: a new stage with colour and probability, on the board", func(t *testing.T) {
		g := page{t, ctx}
		g.until("the stages", `!!document.querySelector('[data-testid="stage-row"]')`)
		browsertest.Axe(t, ctx, "admin: pipelines")
		g.shot("admin-pipelines")

		g.click(`[data-testid="pipeline"] details.add summary`)
		g.set(`[data-testid="stage-add"] input[name="name"]`, "Демо показан")
		g.set(`[data-testid="stage-add"] input[name="color"]`, "#12ab34")
		g.set(`[data-testid="stage-add"] input[name="probability"]`, "35")
		g.click(`[data-testid="stage-add-submit"]`)
		g.until("the new stage is listed", "!!"+rowWith(`[data-testid="stage-row"]`, "Демо показан"))

		var added map[string]any
		for _, s := range stages(firstPipeline()) {
			if s["name"] == "Демо показан" {
				added = s
			}
		}
		if added == nil || added["color"] != "#12ab34" || added["probability"] != float64(35) || added["kind"] != "open" {
			t.Fatalf("the API holds the new stage as %v", added)
		}
		g.shot("admin-pipelines-stage-added")

		g.click(`[data-testid="nav-board"]`)
		col := fmt.Sprintf(`document.querySelector('[data-testid="column"][data-stage-id=%q]')`, added["id"])
		g.until("the stage is a column of the board", fmt.Sprintf(`!!%s && %s.querySelector('h2').textContent.includes('Демо показан')`, col, col))
		var colour string
		g.eval("the column's colour", fmt.Sprintf(`getComputedStyle(%s).borderTopColor`, col), &colour)
		if colour != "rgb(18, 171, 52)" {
			t.Fatalf("the column's top border is %s, want the stage's #12ab34", colour)
		}
		g.click(`[data-testid="nav-admin"]`)
		g.until("back on the stages", `!!document.querySelector('[data-testid="stage-row"]') && document.body.dataset.ready === '1'`)

		// The stage then demands a source of the deals that enter it.
		g.click(fmt.Sprintf(`[data-testid="stage-row"][data-id=%q] [data-testid="stage-edit"]`, added["id"]))
		g.click(`[data-testid="stage-editor"] input[name="required_fields"][value="source"]`)
		g.set(`[data-testid="stage-editor"] input[name="probability"]`, "40")
		g.click(`[data-testid="stage-save"]`)
		g.until("the editor closes", `!document.querySelector('[data-testid="stage-editor"]')`)
		for _, s := range stages(firstPipeline()) {
			if s["id"] == added["id"] {
				req, _ := s["required_fields"].([]any)
				if len(req) != 1 || req[0] != "source" || s["probability"] != float64(40) {
					t.Fatalf("after the edit the API holds the stage as %v", s)
				}
			}
		}
	})

	t.Run("pipelines: reorder with the keyboard", func(t *testing.T) {
		g := page{t, ctx}
		before := stages(firstPipeline())
		first, second := before[0]["id"].(string), before[1]["id"].(string)
		browsertest.Run(t, ctx, "move the first stage down with Enter",
			chromedp.Focus(fmt.Sprintf(`[data-testid="stage-down"][data-id=%q]`, first), chromedp.ByQuery),
			chromedp.KeyEvent(kb.Enter))
		testenv.Eventually(t, "the API has the first two stages swapped", func() bool {
			s := stages(firstPipeline())
			return s[0]["id"] == second && s[1]["id"] == first
		})
		g.until("the page shows the new order", fmt.Sprintf(`document.querySelector('[data-testid="stage-row"]').dataset.id === %q`, second))
		var focused string
		g.eval("focus", `document.activeElement?.dataset?.id ?? ''`, &focused)
		if focused != first {
			t.Fatalf("after the move the focus is on %q, want a button of the moved stage %s", focused, first)
		}
		browsertest.Run(t, ctx, "and back up with Enter",
			chromedp.Focus(fmt.Sprintf(`[data-testid="stage-up"][data-id=%q]`, first), chromedp.ByQuery),
			chromedp.KeyEvent(kb.Enter))
		testenv.Eventually(t, "the API has the first stage first again", func() bool {
			return stages(firstPipeline())[0]["id"] == first
		})
	})

	t.Run("custom fields: a select with options", func(t *testing.T) {
		g := page{t, ctx}
		g.section("fields", "admin-fields")
		g.set(`#fa-label`, "Сегмент")
		g.set(`#fa-key`, "segment")
		g.set(`#fa-type`, "enum")
		g.until("the options", `!!document.querySelector('#fa-ov-0')`)
		g.set(`#fa-ov-0`, "smb")
		g.set(`#fa-ol-0`, "Малый бизнес")
		g.click(`[data-testid="field-add"] [data-testid="option-add"]`)
		g.set(`#fa-ov-1`, "enterprise")
		g.click(`[data-testid="field-add-submit"]`)
		g.until("the field is listed", `!!document.querySelector('[data-testid="field-row"][data-key="segment"]')`)
		var field map[string]any
		for _, f := range items(p.API(t, "GET", "/v1/fields?entity=contact", admin, "", http.StatusOK)) {
			if f["key"] == "segment" {
				field = f
			}
		}
		if field == nil || field["type"] != "enum" || field["label"] != "Сегмент" {
			t.Fatalf("the API holds the field as %v", field)
		}
		var values []string
		for _, o := range field["options"].([]any) {
			values = append(values, o.(map[string]any)["value"].(string))
		}
		if !slices.Equal(values, []string{"smb", "enterprise"}) {
			t.Fatalf("the field's options are %v", values)
		}
		if row := text(t, ctx, `[data-testid="field-row"][data-key="segment"]`); !strings.Contains(row, "Малый бизнес") {
			t.Fatalf("the field's row reads %q", row)
		}
		browsertest.Axe(t, ctx, "admin: custom fields")
		g.shot("admin-fields")
	})

	t.Run("lead sources: add one and move it up", func(t *testing.T) {
		g := page{t, ctx}
		g.section("sources", "admin-sources")
		n := len(items(p.API(t, "GET", "/v1/lead-sources", admin, "", http.StatusOK)))
		if n < 2 {
			t.Fatalf("the demo tenant has %d lead sources", n)
		}
		g.click(`[data-testid="source-add"]`)
		g.set(fmt.Sprintf(`#ls-label-%d`, n), "Выставка")
		g.set(fmt.Sprintf(`#ls-value-%d`, n), "expo")
		g.eval("move it up", `(() => { const b = [...document.querySelectorAll('[data-testid="source-up"]')]; b[b.length - 1].click(); return true; })()`, nil)
		g.click(`[data-testid="sources-save"]`)
		g.until("saved", `!!document.querySelector('[data-testid="form-ok"]')`)
		list := items(p.API(t, "GET", "/v1/lead-sources", admin, "", http.StatusOK))
		if len(list) != n+1 || list[n-1]["value"] != "expo" || list[n-1]["label"] != "Выставка" {
			t.Fatalf("the lead sources are %v, want expo second to last", list)
		}
		browsertest.Axe(t, ctx, "admin: lead sources")
		g.shot("admin-sources")
	})

	t.Run("loss reasons: add one and archive it", func(t *testing.T) {
		g := page{t, ctx}
		g.section("reasons", "admin-reasons")
		g.set(`#lr-new`, "Нет бюджета до весны")
		g.click(`[data-testid="reason-add-submit"]`)
		g.until("the reason is listed", "!!"+rowWith(`[data-testid="reason-row"]`, "Нет бюджета до весны"))
		reason := func() map[string]any {
			for _, r := range items(p.API(t, "GET", "/v1/loss-reasons?include_archived=true", admin, "", http.StatusOK)) {
				if r["name"] == "Нет бюджета до весны" {
					return r
				}
			}
			return nil
		}
		r := reason()
		if r == nil || r["archived"] != false {
			t.Fatalf("the API holds the reason as %v", r)
		}
		g.click(fmt.Sprintf(`[data-testid="reason-row"][data-id=%q] [data-testid="reason-archive"]`, r["id"]))
		g.until("archived on the page", fmt.Sprintf(`!!document.querySelector('[data-testid="reason-row"][data-id=%q] [data-testid="reason-restore"]')`, r["id"]))
		if r = reason(); r["archived"] != true {
			t.Fatalf("the API holds the reason as %v", r)
		}
		browsertest.Axe(t, ctx, "admin: loss reasons")
		g.shot("admin-reasons")
	})

	t.Run("currency rates: set EUR", func(t *testing.T) {
		g := page{t, ctx}
		g.section("rates", "admin-rates")
		if base := text(t, ctx, `[data-testid="base-currency"]`); base != "RUB" {
			t.Fatalf("the page gives the base currency as %q", base)
		}
		g.set(`#cr-cur`, "EUR")
		g.set(`#cr-rate`, "98,25")
		g.click(`[data-testid="rate-save"]`)
		g.until("the rate is listed", `!!document.querySelector('[data-testid="rate-row"][data-currency="EUR"]')`)
		var eur map[string]any
		for _, r := range items(p.API(t, "GET", "/v1/currency-rates", admin, "", http.StatusOK)) {
			if r["currency"] == "EUR" {
				eur = r
			}
		}
		if eur == nil || eur["rate"] != "98.25" {
			t.Fatalf("the API holds the rate as %v", eur)
		}
		if row := text(t, ctx, `[data-testid="rate-row"][data-currency="EUR"]`); !strings.Contains(row, "98,25") {
			t.Fatalf("the rate's row reads %q, want it written the Russian way", row)
		}
		browsertest.Axe(t, ctx, "admin: currency rates")
		g.shot("admin-rates")
	})

	t.Run("outcomes: the no-answer ladder", func(t *testing.T) {
		g := page{t, ctx}
		g.section("outcomes", "admin-outcomes")
		ladder := func() []float64 {
			for _, o := range items(p.API(t, "GET", "/v1/outcomes", admin, "", http.StatusOK)) {
				if o["key"] == "no_answer" {
					var out []float64
					for _, m := range o["ladder_minutes"].([]any) {
						out = append(out, m.(float64))
					}
					return out
				}
			}
			t.Fatal("no no_answer outcome")
			return nil
		}
		edit := `[data-testid="outcome-row"][data-key="no_answer"] [data-testid="outcome-edit"]`
		g.click(edit)
		g.until("the ladder editor", `!!document.querySelector('#oe-step-0')`)
		// Down to two steps, then 10 and 60 minutes.
		for {
			var count int
			g.eval("count steps", `document.querySelectorAll('[data-testid="outcome-editor"] .step').length`, &count)
			if count <= 2 {
				break
			}
			g.click(fmt.Sprintf(`[data-testid="outcome-editor"] li:nth-child(%d) .step button`, count))
			g.until("a step fewer", fmt.Sprintf(`document.querySelectorAll('[data-testid="outcome-editor"] .step').length === %d`, count-1))
		}
		g.set(`#oe-step-0`, "10")
		g.set(`#oe-step-1`, "60")
		g.click(`[data-testid="outcome-save"]`)
		g.until("saved", `!document.querySelector('[data-testid="outcome-editor"]')`)
		if l := ladder(); !slices.Equal(l, []float64{10, 60}) {
			t.Fatalf("the API's no_answer ladder is %v, want [10 60]", l)
		}
		if row := text(t, ctx, `[data-testid="outcome-row"][data-key="no_answer"] [data-testid="outcome-ladder"]`); !strings.Contains(row, "10") || !strings.Contains(row, "1 ч") {
			t.Fatalf("the ladder reads %q", row)
		}
		browsertest.Axe(t, ctx, "admin: outcomes")
		g.shot("admin-outcomes")

		// A ladder that does not grow is refused under its step, and nothing changes.
		g.click(edit)
		g.until("the ladder editor", `!!document.querySelector('#oe-step-1')`)
		g.set(`#oe-step-0`, "60")
		g.set(`#oe-step-1`, "30")
		g.click(`[data-testid="outcome-save"]`)
		g.until("the step's error", `!!document.querySelector('[data-testid="outcome-editor"] [data-testid="field-error"][data-field="ladder_minutes/1"]')`)
		var invalid string
		g.eval("the step is marked", `document.querySelector('#oe-step-1').getAttribute('aria-invalid') ?? ''`, &invalid)
		if invalid != "true" {
			t.Fatalf("the refused step is not marked invalid (%q)", invalid)
		}
		if l := ladder(); !slices.Equal(l, []float64{10, 60}) {
			t.Fatalf("a refused ladder changed the API's to %v", l)
		}
		browsertest.Axe(t, ctx, "admin: outcomes with an error")
		g.shot("admin-outcomes-error")
	})

	t.Run("calendars: a user's with Saturday hours", func(t *testing.T) {
		g := page{t, ctx}
		g.section("calendars", "admin-calendars")
		browsertest.Axe(t, ctx, "admin: calendars")
		g.shot("admin-calendars")
		g.click(`[data-testid="calendar-new"]`)
		g.until("the editor", `!!document.querySelector('[data-testid="calendar-editor"]')`)
		g.set(`#cal-new-user`, "sat@demo")
		var n int
		g.eval("Saturday's spans", `document.querySelectorAll('[data-testid="week-day"][data-day="saturday"] .span').length`, &n)
		g.click(`[data-testid="span-add"][data-day="week/saturday"]`)
		g.until("a Saturday span", fmt.Sprintf(`!!document.getElementById('cal-new-week/saturday-%d-from')`, n))
		g.set(fmt.Sprintf(`[id="cal-new-week/saturday-%d-from"]`, n), "10:00")
		g.set(fmt.Sprintf(`[id="cal-new-week/saturday-%d-to"]`, n), "14:00")
		browsertest.Axe(t, ctx, "admin: calendar editor")
		g.shot("admin-calendar-editor")
		g.click(`[data-testid="calendar-save"]`)
		g.until("the calendar is listed", `!!document.querySelector('[data-testid="calendar-row"][data-user="sat@demo"]')`)
		var saturday []any
		for _, c := range items(p.API(t, "GET", "/v1/calendars", admin, "", http.StatusOK)) {
			if c["user_id"] == "sat@demo" {
				saturday, _ = c["week"].(map[string]any)["saturday"].([]any)
			}
		}
		found := false
		for _, s := range saturday {
			m := s.(map[string]any)
			found = found || m["from"] == "10:00" && m["to"] == "14:00"
		}
		if !found {
			t.Fatalf("the user's Saturday is %v, want 10:00–14:00 in it", saturday)
		}
	})

	t.Run("task rules: warn, after a conflict", func(t *testing.T) {
		g := page{t, ctx}
		g.section("tasks", "admin-tasks")
		g.until("the form", `!!document.querySelector('[data-testid="settings-form"]')`)
		browsertest.Axe(t, ctx, "admin: task rules")
		before := p.API(t, "GET", "/v1/tasks/settings", admin, "", http.StatusOK)
		if before.Str("discipline") == "warn" {
			t.Fatalf("the demo tenant's discipline is already warn")
		}
		// Someone else changes the rules while the page is open.
		p.API(t, "PATCH", "/v1/tasks/settings", admin, `{"reminder_minutes":25}`, http.StatusOK)
		g.click(`[data-testid="discipline-warn"]`)
		g.click(`[data-testid="settings-save"]`)
		g.until("the conflict notice", `!!document.querySelector('[data-testid="conflict-notice"]')`)
		if d := p.API(t, "GET", "/v1/tasks/settings", admin, "", http.StatusOK).Str("discipline"); d != before.Str("discipline") {
			t.Fatalf("a stale save changed the discipline to %s", d)
		}
		g.until("the latest rules on the page", `document.querySelector('#ts-rem').value === '25'`)
		g.shot("admin-tasks-conflict")
		g.click(`[data-testid="discipline-warn"]`)
		g.click(`[data-testid="settings-save"]`)
		g.until("saved", `!!document.querySelector('[data-testid="form-ok"]')`)
		after := p.API(t, "GET", "/v1/tasks/settings", admin, "", http.StatusOK)
		if after.Str("discipline") != "warn" || after.Body["reminder_minutes"] != float64(25) {
			t.Fatalf("the rules are %s", after.Raw)
		}
		g.shot("admin-tasks")
	})

	t.Run("a manager is not offered what only admins may change", func(t *testing.T) {
		ctx := browsertest.New(t)
		g := page{t, ctx}
		p.SignIn(t, ctx, "/admin?section=fields", "demo", "manager", "", "team-1")
		g.until("the fields", `!!document.querySelector('[data-testid="field-row"][data-key="segment"]')`)
		if !g.has(`[data-testid="admin-only"]`) || g.has(`[data-testid="field-add"]`) || g.has(`[data-testid="field-edit"]`) || g.has(`[data-testid="field-delete"]`) {
			t.Fatal("a manager is offered to change custom fields, which the API keeps for admins")
		}
		browsertest.Axe(t, ctx, "admin: custom fields, as a manager")
		g.shot("admin-manager-fields")

		g.section("sources", "admin-sources")
		g.until("the sources", `!!document.querySelector('[data-testid="source-row"][data-value="expo"]')`)
		if !g.has(`[data-testid="admin-only"]`) || g.has(`[data-testid="sources-form"]`) || g.has(`[data-testid="source-add"]`) {
			t.Fatal("a manager is offered to replace the lead sources, which the API keeps for admins")
		}
		// What managers may change stays on offer.
		g.section("pipelines", "admin-pipelines")
		g.until("the stages", `!!document.querySelector('[data-testid="stage-row"]')`)
		if !g.has(`[data-testid="stage-add"]`) || !g.has(`[data-testid="stage-edit"]`) {
			t.Fatal("a manager is not offered to change stages, which the API allows")
		}
	})
}
