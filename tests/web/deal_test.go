package web

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// digits keeps the digits of a formatted amount ("15 500,00 ₽" → "1550000").
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// minor is how an amount in minor units reads once formatted with two
// decimals, digits only (0 → "000").
func minor(n int) string { return fmt.Sprintf("%03d", n) }

func TestDealCardInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")
	rep1 := p.UserToken("demo", "rep", "rep1@demo", "team-1")
	rep2 := p.UserToken("demo", "rep", "rep2@demo", "team-2")

	// A pipeline of the test's own, with the default stages (in Russian).
	pipe := p.API(t, "POST", "/v1/pipelines", admin, `{"name":"Карточка сделки"}`, http.StatusCreated)
	pid := pipe.Str("id")
	var open []string
	var won, lost string
	for _, s := range pipe.Body["stages"].([]any) {
		m := s.(map[string]any)
		switch m["kind"] {
		case "open":
			open = append(open, m["id"].(string))
		case "won":
			won = m["id"].(string)
		case "lost":
			lost = m["id"].(string)
		}
	}
	if len(open) < 2 || won == "" || lost == "" {
		t.Fatalf("the new pipeline's stages: %s", pipe.Raw)
	}
	contact := p.API(t, "POST", "/v1/contacts", rep1, `{"first_name":"Ольга","last_name":"Смирнова","emails":["olga.deal@example.ru"]}`, http.StatusCreated).Str("id")
	deal := func(token, title string, amount int, stage, extra string) string {
		t.Helper()
		return p.API(t, "POST", "/v1/deals", token, fmt.Sprintf(`{"title":%q,"amount":%d,"currency":"RUB","pipeline_id":%q,"stage_id":%q%s}`,
			title, amount, pid, stage, extra), http.StatusCreated).Str("id")
	}
	// rep1 (team-1): 12 500,00 ₽ and 3 000,00 ₽ in the first stage;
	// rep2 (team-2): 7 000,00 ₽ in the first and 4 500,00 ₽ in the second.
	a := deal(rep1, "Поставка станков", 1250000, open[0], fmt.Sprintf(`,"contact_id":%q,"expected_close_date":"2031-03-31"`, contact))
	b := deal(rep1, "Сервисный контракт", 300000, open[0], "")
	c := deal(rep2, "Аренда склада", 700000, open[0], "")
	d := deal(rep2, "Обучение персонала", 450000, open[1], "")
	card := func(id string) string { return fmt.Sprintf(`[data-testid="deal-card"][data-id=%q]`, id) }
	column := func(stage, what string) string {
		return fmt.Sprintf(`[data-testid="column"][data-stage-id=%q] [data-testid=%q]`, stage, what)
	}

	// An overdue call about deal a (the tasks service learns of the deal from its events).
	past := time.Now().UTC().Add(-2 * time.Hour).Format(time.RFC3339)
	var task string
	testenv.Eventually(t, "a task about the deal", func() bool {
		r := testenv.Call(t, "POST", p.Gateway+"/v1/tasks", rep1, fmt.Sprintf(`{"kind":"call","subject":"Обсудить КП","due_at":%q,"deal_id":%q}`, past, a))
		task = r.Str("id")
		return r.Status == http.StatusCreated
	})

	ctx := browsertest.New(t)
	p.SignIn(t, ctx, "/board/"+pid, "demo", "admin", "", "team-1")
	browsertest.Run(t, ctx, "every deal is on the admin's board",
		chromedp.WaitVisible(card(a), chromedp.ByQuery), chromedp.WaitVisible(card(b), chromedp.ByQuery),
		chromedp.WaitVisible(card(c), chromedp.ByQuery), chromedp.WaitVisible(card(d), chromedp.ByQuery))

	t.Run("board: the owner and team filters narrow the cards and the sums", func(t *testing.T) {
		if s := digits(text(t, ctx, column(open[0], "column-sum"))); s != minor(2250000) {
			t.Fatalf("the first stage sums %s unfiltered, want %s", s, minor(2250000))
		}
		browsertest.SetValue(t, ctx, `[data-testid="filter-owner"]`, "rep1@demo")
		browsertest.Until(t, ctx, "only rep1's cards", fmt.Sprintf(`!document.querySelector(%q) && !document.querySelector(%q)`, card(c), card(d)))
		owners := browsertest.Eval[[]string](t, ctx, "owners shown", `[...document.querySelectorAll('[data-testid="deal-card"]')].map(e => e.dataset.owner)`)
		if len(owners) != 2 {
			t.Fatalf("rep1's filter shows %d cards (%v), want 2", len(owners), owners)
		}
		for _, o := range owners {
			if o != "rep1@demo" {
				t.Fatalf("rep1's filter shows a card of %s", o)
			}
		}
		for stage, want := range map[string][2]string{open[0]: {"2", minor(1550000)}, open[1]: {"0", minor(0)}} {
			if n, s := text(t, ctx, column(stage, "column-count")), digits(text(t, ctx, column(stage, "column-sum"))); n != want[0] || s != want[1] {
				t.Errorf("stage %s under rep1's filter: %s deals, sum %s; want %s and %s", stage, n, s, want[0], want[1])
			}
		}
		if loc := browsertest.Eval[string](t, ctx, "url", `location.search`); !strings.Contains(loc, "owner=rep1%40demo") {
			t.Fatalf("the owner filter is not in the URL: %q", loc)
		}
		browsertest.Run(t, ctx, "the note says sums are filtered", chromedp.WaitVisible(`[data-testid="filter-note"]`, chromedp.ByQuery))
		browsertest.Axe(t, ctx, "filtered board")
		browsertest.Screenshot(t, ctx, "board-filter-owner")

		// The team filter, from the URL itself after a reload.
		browsertest.Run(t, ctx, "open the board of team-2", chromedp.Navigate(p.Gateway+"/board/"+pid+"?team=team-2"), platform.Ready(),
			chromedp.WaitVisible(card(c), chromedp.ByQuery), chromedp.WaitVisible(`[data-testid="filter-team"]`, chromedp.ByQuery))
		browsertest.Until(t, ctx, "only team-2's cards", fmt.Sprintf(`!document.querySelector(%q) && !document.querySelector(%q) && !!document.querySelector(%q)`, card(a), card(b), card(d)))
		if v := browsertest.Eval[string](t, ctx, "team select", `document.querySelector('[data-testid="filter-team"]').value`); v != "team-2" {
			t.Fatalf("the team select shows %q", v)
		}
		for stage, want := range map[string]string{open[0]: minor(700000), open[1]: minor(450000)} {
			if s := digits(text(t, ctx, column(stage, "column-sum"))); s != want {
				t.Errorf("stage %s under team-2's filter sums %s, want %s", stage, s, want)
			}
		}
		browsertest.SetValue(t, ctx, `[data-testid="filter-team"]`, "")
		browsertest.Until(t, ctx, "every card again", fmt.Sprintf(`!!document.querySelector(%q) && !document.querySelector('[data-testid="filter-note"]')`, card(a)))
		if s := digits(text(t, ctx, column(open[0], "column-sum"))); s != minor(2250000) {
			t.Fatalf("the first stage sums %s without filters, want %s", s, minor(2250000))
		}
	})

	page := fmt.Sprintf(`[data-testid="deal-card-page"][data-id=%q]`, a)
	status := func() string {
		return browsertest.Eval[string](t, ctx, "status", `document.querySelector('[data-testid="deal-status"]')?.dataset.status ?? ''`)
	}
	t.Run("a click on a card opens the deal", func(t *testing.T) {
		browsertest.Run(t, ctx, "click the card", chromedp.Click(card(a), chromedp.ByQuery),
			chromedp.WaitVisible(page+` [data-testid="deal-status"]`, chromedp.ByQuery), platform.Ready())
		if loc := browsertest.Eval[string](t, ctx, "url", `location.pathname`); loc != "/deals/"+a {
			t.Fatalf("the card opened %s", loc)
		}
		if s := status(); s != "open" {
			t.Fatalf("the deal is %q", s)
		}
		if v := digits(text(t, ctx, `[data-testid="deal-amount"]`)); v != minor(1250000) {
			t.Fatalf("the amount reads %s", v)
		}
		browsertest.Run(t, ctx, "its contact and its task",
			chromedp.WaitVisible(fmt.Sprintf(`a[data-testid="deal-contact"][href="/contacts/%s"]`, contact), chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="deal-task"][data-id=%q].overdue`, task), chromedp.ByQuery))
		browsertest.Until(t, ctx, "the contact's name", `document.querySelector('[data-testid="deal-contact"]').textContent.includes('Смирнова')`)
	})

	t.Run("the stage history, with the time in each stage", func(t *testing.T) {
		p.API(t, "POST", "/v1/deals/"+a+"/move", admin, fmt.Sprintf(`{"stage_id":%q}`, open[1]), http.StatusOK)
		browsertest.Run(t, ctx, "read the deal again", chromedp.Reload(), chromedp.WaitVisible(page+` [data-testid="stage-history"]`, chromedp.ByQuery), platform.Ready())
		rows := browsertest.Eval[[]map[string]string](t, ctx, "history", `[...document.querySelectorAll('[data-testid="history-row"]')].map(r => ({stage: r.dataset.stageId, time: r.querySelector('[data-testid="time-in-stage"]').textContent.trim()}))`)
		if len(rows) != 2 || rows[0]["stage"] != open[0] || rows[1]["stage"] != open[1] {
			t.Fatalf("the history shows %v, want %s then %s", rows, open[0], open[1])
		}
		unit := regexp.MustCompile(`^(< 1 мин|\d+ (д|ч|мин)( \d+ (ч|мин))?)$`)
		for _, r := range rows {
			if !unit.MatchString(r["time"]) {
				t.Errorf("a time in stage reads %q", r["time"])
			}
		}
		if s := text(t, ctx, `[data-testid="deal-stage"]`); !strings.Contains(s, "Квалификация") {
			t.Errorf("the deal's stage reads %q", s)
		}
		browsertest.Axe(t, ctx, "deal card (open)")
		browsertest.Screenshot(t, ctx, "deal-open")
	})

	t.Run("lose with a reason, reopen, win", func(t *testing.T) {
		reasons := p.API(t, "GET", "/v1/loss-reasons", admin, "", http.StatusOK).Body["items"].([]any)
		if len(reasons) < 2 {
			t.Fatalf("the tenant has %d loss reasons", len(reasons))
		}
		reason := reasons[1].(map[string]any)
		browsertest.Run(t, ctx, "lose without a reason",
			chromedp.Click(`[data-testid="deal-lose"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="loss-reason"]`, chromedp.ByQuery),
			chromedp.Click(`[data-testid="deal-lose-confirm"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="loss-reason"] ~ [data-testid="field-error"]`, chromedp.ByQuery))
		if s := status(); s != "open" {
			t.Fatalf("a loss without a reason made the deal %q", s)
		}
		browsertest.SetValue(t, ctx, `[data-testid="loss-reason"]`, reason["id"].(string))
		browsertest.Run(t, ctx, "lose for the reason",
			chromedp.SendKeys(`#loss-comment`, "Выбрали другого поставщика", chromedp.ByQuery),
			chromedp.Click(`[data-testid="deal-lose-confirm"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="deal-status"][data-status="lost"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="deal-reopen"]`, chromedp.ByQuery))
		got := p.API(t, "GET", "/v1/deals/"+a, admin, "", http.StatusOK)
		if got.Str("status") != "lost" || got.Str("loss_reason_id") != reason["id"] || got.Str("loss_comment") != "Выбрали другого поставщика" || got.Str("stage_id") != lost {
			t.Fatalf("after the loss the API has %s", got.Raw)
		}
		if s := text(t, ctx, `[data-testid="deal-loss-reason"]`); s != reason["name"] {
			t.Errorf("the card names the reason %q, want %q", s, reason["name"])
		}
		browsertest.Until(t, ctx, "three rows of history after the loss", `document.querySelectorAll('[data-testid="history-row"]').length === 3`)
		browsertest.Axe(t, ctx, "deal card (lost)")
		browsertest.Screenshot(t, ctx, "deal-lost")

		browsertest.Run(t, ctx, "reopen", chromedp.Click(`[data-testid="deal-reopen"]`, chromedp.ByQuery))
		browsertest.Until(t, ctx, "the deal is open", `document.querySelector('[data-testid="deal-status"]')?.dataset.status === 'open'`)
		got = p.API(t, "GET", "/v1/deals/"+a, admin, "", http.StatusOK)
		if got.Str("status") != "open" || got.Str("stage_id") != open[1] || got.Body["loss_reason_id"] != nil {
			t.Fatalf("after reopening the API has %s", got.Raw)
		}

		browsertest.Run(t, ctx, "win", chromedp.Click(`[data-testid="deal-win"]`, chromedp.ByQuery))
		browsertest.Until(t, ctx, "the deal is won", `document.querySelector('[data-testid="deal-status"]')?.dataset.status === 'won'`)
		got = p.API(t, "GET", "/v1/deals/"+a, admin, "", http.StatusOK)
		if got.Str("status") != "won" || got.Str("stage_id") != won {
			t.Fatalf("after winning the API has %s", got.Raw)
		}
		browsertest.Until(t, ctx, "five rows of history after lose, reopen and win", `document.querySelectorAll('[data-testid="history-row"]').length === 5`)
	})

	t.Run("edit: field errors, and a change made meanwhile is not lost", func(t *testing.T) {
		browsertest.Run(t, ctx, "edit", chromedp.Click(`[data-testid="deal-edit"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#deal-f-title`, chromedp.ByQuery))
		// The API refuses a year before 1900: its message shows under the field.
		browsertest.SetValue(t, ctx, `#deal-f-close`, "1800-01-01")
		browsertest.Run(t, ctx, "save a bad date", chromedp.Click(`[data-testid="deal-save"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#deal-f-close ~ [data-testid="field-error"]`, chromedp.ByQuery))
		browsertest.SetValue(t, ctx, `#deal-f-close`, "2031-03-31")

		// Someone changes the deal through the API while the form is open.
		p.API(t, "PATCH", "/v1/deals/"+a, admin, `{"title":"Поставка станков (API)"}`, http.StatusOK)
		browsertest.SetValue(t, ctx, `#deal-f-title`, "Поставка станков и оснастки")
		browsertest.Run(t, ctx, "save over the other change", chromedp.Click(`[data-testid="deal-save"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="conflict-notice"]`, chromedp.ByQuery))
		browsertest.Until(t, ctx, "the fresh title", `document.querySelector('[data-testid="deal-title"]').textContent.trim() === 'Поставка станков (API)'`)
		if v := browsertest.Eval[string](t, ctx, "the form", `document.querySelector('#deal-f-title').value`); v != "Поставка станков и оснастки" {
			t.Fatalf("the conflict lost what was typed: the form holds %q", v)
		}
		if h := text(t, ctx, `[data-testid="theirs"]`); !strings.Contains(h, "Поставка станков (API)") {
			t.Errorf("the form does not say what the other change saved: %q", h)
		}
		if got := p.API(t, "GET", "/v1/deals/"+a, admin, "", http.StatusOK); got.Str("title") != "Поставка станков (API)" {
			t.Fatalf("the refused save changed the deal: %s", got.Raw)
		}
		browsertest.Axe(t, ctx, "deal card (conflict)")
		browsertest.Screenshot(t, ctx, "deal-conflict")

		browsertest.Run(t, ctx, "save again", chromedp.Click(`[data-testid="deal-save"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="deal-message"]`, chromedp.ByQuery))
		browsertest.Until(t, ctx, "the saved title", `document.querySelector('[data-testid="deal-title"]').textContent.trim() === 'Поставка станков и оснастки'`)
		if got := p.API(t, "GET", "/v1/deals/"+a, admin, "", http.StatusOK); got.Str("title") != "Поставка станков и оснастки" {
			t.Fatalf("after saving again the API has %s", got.Raw)
		}
		browsertest.Screenshot(t, ctx, "deal-won")
	})

	t.Run("a viewer is offered no action", func(t *testing.T) {
		vctx := browsertest.New(t)
		p.SignIn(t, vctx, "/deals/"+b, "demo", "viewer", "viewer1@demo", "team-1")
		browsertest.Run(t, vctx, "the deal", chromedp.WaitVisible(`[data-testid="deal-status"]`, chromedp.ByQuery))
		if n := browsertest.Eval[int](t, vctx, "actions", `document.querySelectorAll('[data-testid="deal-win"],[data-testid="deal-lose"],[data-testid="deal-reopen"],[data-testid="deal-edit"]').length`); n != 0 {
			t.Fatalf("a viewer is offered %d actions", n)
		}
	})
}
