// Package web drives the web application in Debian's Chromium against the
// whole platform as make run starts it: a person signs in, meets the
// duplicate warning, drags a deal, works through the day; every page is
// checked with axe-core and kept as a screenshot
// (.cache/artefacts/web/*.png).
package web

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/tests/platform"
)

// text is the text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	browsertest.Run(t, ctx, "read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

func TestWebApplicationInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")

	t.Run("an unbuilt or unknown path is not the application", func(t *testing.T) {
		res, err := http.Get(p.Gateway + "/day")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("GET /day = %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	})

	t.Run("contacts: create, and meet the duplicate warning", func(t *testing.T) {
		ctx := browsertest.New(t)
		p.SignIn(t, ctx, "/contacts", "demo", "admin", "", "team-1")
		browsertest.Axe(t, ctx, "contacts")
		browsertest.Screenshot(t, ctx, "contacts")
		create := func() {
			browsertest.Run(t, ctx, "new contact",
				chromedp.Click(`[data-testid="contact-new"]`, chromedp.ByQuery),
				chromedp.WaitVisible(`input[name="first_name"]`, chromedp.ByQuery),
				chromedp.SendKeys(`input[name="first_name"]`, "Анна", chromedp.ByQuery),
				chromedp.SendKeys(`input[name="last_name"]`, "Иванова", chromedp.ByQuery),
				chromedp.SendKeys(`input[name="email"]`, "anna.web@example.ru", chromedp.ByQuery),
				chromedp.Click(`[data-testid="contact-save"]`, chromedp.ByQuery),
			)
		}
		create()
		browsertest.Run(t, ctx, "the card opens", chromedp.WaitVisible(`[data-testid="contact-card"]`, chromedp.ByQuery), platform.Ready())
		browsertest.Axe(t, ctx, "contact card")
		browsertest.Screenshot(t, ctx, "contact-card")

		browsertest.Run(t, ctx, "back to the list", chromedp.Click(`[data-testid="nav-contacts"]`, chromedp.ByQuery), platform.Ready())
		create()
		browsertest.Run(t, ctx, "the duplicate warning", chromedp.WaitVisible(`[data-testid="duplicate-warning"]`, chromedp.ByQuery))
		if w := text(t, ctx, `[data-testid="duplicate-warning"]`); !strings.Contains(w, "Анна") {
			t.Fatalf("the duplicate warning does not name the existing contact: %q", w)
		}
		browsertest.Axe(t, ctx, "duplicate warning")
		browsertest.Screenshot(t, ctx, "contact-duplicate")

		// Search as you type finds her by e-mail.
		browsertest.Run(t, ctx, "search",
			chromedp.Click(`[data-testid="nav-contacts"]`, chromedp.ByQuery), platform.Ready(),
			chromedp.SendKeys(`[data-testid="contact-search"]`, "anna.web", chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="contact-row"]`, chromedp.ByQuery))
		if row := text(t, ctx, `[data-testid="contact-row"]`); !strings.Contains(row, "Иванова") {
			t.Fatalf("search found %q", row)
		}
	})

	t.Run("a rep does not see another team's contacts", func(t *testing.T) {
		other := p.UserToken("demo", "rep", "rep9@demo", "team-9")
		p.API(t, "POST", "/v1/contacts", other, `{"first_name":"Hidden","last_name":"Ninth","emails":["ninth@example.com"]}`, http.StatusCreated)
		mine := p.UserToken("demo", "rep", "rep1@demo", "team-1")
		p.API(t, "POST", "/v1/contacts", mine, `{"first_name":"Visible","last_name":"First","emails":["first@example.com"]}`, http.StatusCreated)

		ctx := browsertest.New(t)
		p.SignIn(t, ctx, "/contacts", "demo", "rep", "rep1@demo", "team-1")
		browsertest.Run(t, ctx, "the rep's list", chromedp.WaitVisible(`[data-testid="contact-row"]`, chromedp.ByQuery))
		var rows string
		browsertest.Run(t, ctx, "rows", chromedp.Text(`main`, &rows, chromedp.ByQuery))
		if !strings.Contains(rows, "Visible") || strings.Contains(rows, "Hidden") {
			t.Fatalf("the rep's list shows:\n%s", rows)
		}
		var admin bool
		browsertest.Run(t, ctx, "no admin for a rep", chromedp.Evaluate(`!!document.querySelector('[data-testid="nav-admin"]')`, &admin))
		if admin {
			t.Fatal("a rep is offered the administration")
		}

		// A viewer reads and is offered no change.
		viewer := browsertest.New(t)
		p.SignIn(t, viewer, "/contacts", "demo", "viewer", "view1@demo", "team-1")
		var offered bool
		browsertest.Run(t, viewer, "a viewer's contacts", chromedp.WaitVisible(`[data-testid="contact-row"]`, chromedp.ByQuery),
			chromedp.Evaluate(`!!document.querySelector('[data-testid="contact-new"], [data-testid="contact-import"]')`, &offered))
		if offered {
			t.Fatal("a viewer is offered to create or import contacts")
		}
		browsertest.Run(t, viewer, "a viewer's board", chromedp.Navigate(p.Gateway+"/board"), platform.Ready(),
			chromedp.Evaluate(`!!document.querySelector('[data-testid="quick-deal"], [data-testid="deal-card"][draggable="true"]')`, &offered))
		if offered {
			t.Fatal("a viewer is offered to add or move deals")
		}
	})

	t.Run("board: a drag moves the card and both columns' sums", func(t *testing.T) {
		pipes := p.API(t, "GET", "/v1/pipelines", admin, "", http.StatusOK)
		items, _ := pipes.Body["items"].([]any)
		if len(items) == 0 {
			t.Fatalf("no pipeline: %s", pipes.Raw)
		}
		pipe := items[0].(map[string]any)
		deal := p.API(t, "POST", "/v1/deals", admin, fmt.Sprintf(`{"title":"Web deal","amount":12500,"currency":"RUB","pipeline_id":%q}`, pipe["id"]), http.StatusCreated)
		id := deal.Body["id"].(string)

		ctx := browsertest.New(t)
		p.SignIn(t, ctx, "/board", "demo", "admin", "", "team-1")
		card := fmt.Sprintf(`[data-testid="deal-card"][data-id=%q]`, id)
		browsertest.Run(t, ctx, "the deal is on the board", chromedp.WaitVisible(card, chromedp.ByQuery))
		browsertest.Axe(t, ctx, "board")
		browsertest.Screenshot(t, ctx, "board")

		var from, to string
		sums := func() (string, string) {
			var a, b string
			browsertest.Run(t, ctx, "sums", chromedp.Evaluate(fmt.Sprintf(`(() => {
				const card = document.querySelector(%q);
				const col = card.closest('[data-testid="column"]');
				const next = col.nextElementSibling;
				return [col.querySelector('[data-testid="column-sum"]').textContent, next.querySelector('[data-testid="column-sum"]').textContent].join('|');
			})()`, card), &a))
			parts := strings.SplitN(a, "|", 2)
			if len(parts) == 2 {
				b = parts[1]
			}
			return parts[0], b
		}
		from, to = sums()
		var stageBefore string
		browsertest.Run(t, ctx, "stage before", chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).closest('[data-testid="column"]').dataset.stageId`, card), &stageBefore))

		// The keyboard move (Alt+→) is the drag's accessible twin.
		browsertest.Run(t, ctx, "move with the keyboard",
			chromedp.Focus(card, chromedp.ByQuery),
			chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(input.ModifierAlt)),
		)
		var stageAfter string
		deadline := time.Now().Add(5 * time.Second)
		for {
			browsertest.Run(t, ctx, "stage after", chromedp.Evaluate(fmt.Sprintf(`(document.querySelector(%q)?.closest('[data-testid="column"]')||{dataset:{}}).dataset.stageId||''`, card), &stageAfter))
			if stageAfter != "" && stageAfter != stageBefore || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if stageAfter == stageBefore || stageAfter == "" {
			t.Fatalf("the card stayed in stage %s", stageBefore)
		}
		// The server agrees, and the page's sums follow.
		testenv.Eventually(t, "the deal in the stage the page shows", func() bool {
			return p.API(t, "GET", "/v1/deals/"+id, admin, "", http.StatusOK).Body["stage_id"] == stageAfter
		})
		var leftNow string
		browsertest.Run(t, ctx, "sum of the old column", chromedp.Evaluate(fmt.Sprintf(`document.querySelector('[data-testid="column"][data-stage-id=%q] [data-testid="column-sum"]').textContent`, stageBefore), &leftNow))
		var rightNow string
		browsertest.Run(t, ctx, "sum of the new column", chromedp.Evaluate(fmt.Sprintf(`document.querySelector('[data-testid="column"][data-stage-id=%q] [data-testid="column-sum"]').textContent`, stageAfter), &rightNow))
		if leftNow == from || rightNow == to {
			t.Fatalf("sums did not change: %q→%q and %q→%q", from, leftNow, to, rightNow)
		}
		browsertest.Screenshot(t, ctx, "board-after-move")
	})

	t.Run("day: No answer brings the call back five minutes later", func(t *testing.T) {
		const user = "caller@demo"
		tok := p.UserToken("demo", "rep", user, "team-1")
		// The caller works around the clock, so the ladder's five minutes are
		// five minutes whenever the test runs.
		week := `{"from":"00:00","to":"24:00"}`
		p.API(t, "POST", "/v1/calendars", admin, fmt.Sprintf(`{"user_id":%q,"time_zone":"UTC","week":{"monday":[%s],"tuesday":[%s],"wednesday":[%s],"thursday":[%s],"friday":[%s],"saturday":[%s],"sunday":[%s]}}`,
			user, week, week, week, week, week, week, week), http.StatusCreated)
		due := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
		task := p.API(t, "POST", "/v1/tasks", tok, fmt.Sprintf(`{"kind":"call","subject":"Call about the offer","due_at":%q}`, due), http.StatusCreated)
		id := task.Body["id"].(string)

		ctx := browsertest.New(t)
		p.SignIn(t, ctx, "/day", "demo", "rep", user, "team-1")
		browsertest.Run(t, ctx, "the task is on the agenda", chromedp.WaitVisible(fmt.Sprintf(`[data-testid="task-row"][data-id=%q]`, id), chromedp.ByQuery))
		browsertest.Axe(t, ctx, "day")
		browsertest.Screenshot(t, ctx, "day")

		browsertest.Run(t, ctx, "next task",
			chromedp.Click(`[data-testid="next-task"]`, chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="focus-task"][data-id=%q]`, id), chromedp.ByQuery))
		browsertest.Axe(t, ctx, "next task")
		browsertest.Screenshot(t, ctx, "day-next-task")
		before := time.Now()
		browsertest.Run(t, ctx, "No answer",
			chromedp.Click(`[data-testid="outcome"][data-key="no_answer"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="task-row"][data-attempt="2"]`, chromedp.ByQuery))
		browsertest.Screenshot(t, ctx, "day-after-no-answer")

		list := p.API(t, "GET", "/v1/tasks?status=open", tok, "", http.StatusOK)
		items, _ := list.Body["items"].([]any)
		var again map[string]any
		for _, it := range items {
			if m := it.(map[string]any); m["attempt"] == float64(2) {
				again = m
			}
		}
		if again == nil {
			t.Fatalf("no second attempt: %s", list.Raw)
		}
		at, err := time.Parse(time.RFC3339, again["due_at"].(string))
		if err != nil || at.Before(before.Add(4*time.Minute)) || at.After(time.Now().Add(6*time.Minute)) {
			t.Fatalf("the second attempt is due %v, want five minutes after %v", again["due_at"], before)
		}
	})

	t.Run("a parent tenant's admin reads a department, read only", func(t *testing.T) {
		north := p.Token("demo-north", "admin")
		p.API(t, "POST", "/v1/contacts", north, `{"first_name":"Северный","last_name":"Клиент","emails":["north@example.ru"]}`, http.StatusCreated)

		ctx := browsertest.New(t)
		p.SignIn(t, ctx, "/contacts", "demo", "admin", "", "team-1")
		// Choosing a department (SetValue fires the select's change) reloads the page.
		browsertest.Run(t, ctx, "switch to the department",
			chromedp.SetValue(`[data-testid="department-switch"]`, tenancy.LocalID("demo-north").String(), chromedp.ByQuery),
			chromedp.WaitVisible(`[data-testid="department-notice"]`, chromedp.ByQuery), platform.Ready(),
			chromedp.WaitVisible(`[data-testid="contact-row"]`, chromedp.ByQuery))
		var rows string
		browsertest.Run(t, ctx, "rows", chromedp.Text(`main`, &rows, chromedp.ByQuery))
		if !strings.Contains(rows, "Северный") || strings.Contains(rows, "Иванова") {
			t.Fatalf("the department's list shows:\n%s", rows)
		}
		var offered bool
		browsertest.Run(t, ctx, "no new contact, import or export", chromedp.Evaluate(
			`!!document.querySelector('[data-testid="contact-new"], [data-testid="contact-import"], [data-testid="export-csv"], [data-testid="nav-duplicates"]')`, &offered))
		if offered {
			t.Fatal("a department's reader is offered to create, import or export")
		}
		browsertest.Run(t, ctx, "nothing to change", chromedp.Navigate(p.Gateway+"/day"), platform.Ready(),
			chromedp.Evaluate(`!!document.querySelector('[data-testid="next-task"], [data-testid="nav-admin"]')`, &offered))
		if offered {
			t.Fatal("a department's reader is offered changes")
		}
		browsertest.Axe(t, ctx, "department")
		browsertest.Screenshot(t, ctx, "department")
	})

	t.Run("admin: the setup pages", func(t *testing.T) {
		ctx := browsertest.New(t)
		p.SignIn(t, ctx, "/admin", "demo", "admin", "", "team-1")
		browsertest.Axe(t, ctx, "admin")
		browsertest.Screenshot(t, ctx, "admin")
	})
}
