package web

import (
	"context"
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
	"github.com/rapportcrm/rapport/tests/platform"
)

// retype replaces the value of the input sel with s as a person types it.
func retype(sel, s string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if err := chromedp.Evaluate(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.focus(); el.select(); return true; })()`, sel), nil).Do(ctx); err != nil {
			return err
		}
		return chromedp.SendKeys(sel, s, chromedp.ByQuery).Do(ctx)
	})
}

// choose picks the option v of the select sel as a person does.
func choose(sel, v string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
		el.dispatchEvent(new Event('change', {bubbles: true})); return el.value; })()`, sel, v), nil)
}

// TestEditMergeUnmergeInChromium edits a contact on its card (and meets a
// conflict and a field error), merges two duplicates choosing per field,
// and unmerges them again, checking each step through the API.
func TestEditMergeUnmergeInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		slices.Sort(out)
		return out
	}

	// The tenant's custom fields of contacts, one of each kind the form offers.
	for _, f := range []map[string]any{
		{"entity": "contact", "key": "segment", "label": "Сегмент", "type": "enum",
			"options": []map[string]string{{"value": "smb", "label": "Малый бизнес"}, {"value": "enterprise", "label": "Крупный бизнес"}}},
		{"entity": "contact", "key": "budget", "label": "Бюджет", "type": "money"},
		{"entity": "contact", "key": "newsletter", "label": "Рассылка", "type": "boolean"},
		{"entity": "contact", "key": "site", "label": "Сайт", "type": "url"},
	} {
		p.API(t, "POST", "/v1/fields", admin, f, http.StatusCreated)
	}
	// Two contacts sharing an e-mail, differing in first name, position and segment.
	a := p.API(t, "POST", "/v1/contacts?allow_duplicate=true", admin, map[string]any{"first_name": "Пётр", "last_name": "Смирнов",
		"position": "Менеджер", "emails": []string{"p.smirnov@example.ru"}}, http.StatusCreated).Str("id")
	b := p.API(t, "POST", "/v1/contacts?allow_duplicate=true", admin, map[string]any{"first_name": "Петя", "last_name": "Смирнов",
		"position": "Директор", "emails": []string{"p.smirnov@example.ru", "petya.smirnov@example.ru"},
		"custom": map[string]any{"segment": "smb"}}, http.StatusCreated).Str("id")
	contact := func(id string) testenv.Reply {
		t.Helper()
		return p.API(t, "GET", "/v1/contacts/"+id, admin, nil, http.StatusOK)
	}

	ctx := browsertest.New(t)
	// The API's refusals the page met, for the log of a failure.
	chromedp.ListenTarget(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response.Status >= 400 {
			t.Logf("page got %d from %s", r.Response.Status, r.Response.URL)
		}
	})
	p.SignIn(t, ctx, "/contacts/"+a, "demo", "admin", "", "team-1")

	if !t.Run("edit the position", func(t *testing.T) {
		browsertest.Run(t, ctx, "open the form",
			browsertest.Click(`[data-testid="contact-edit"]`),
			chromedp.WaitVisible(`#edit-position`, chromedp.ByQuery))
		browsertest.Axe(t, ctx, "contact card in edit mode")
		browsertest.Screenshot(t, ctx, "merge-card-edit")
		browsertest.Run(t, ctx, "change the position and custom fields",
			retype(`#edit-position`, "Руководитель отдела"),
			choose(`#edit-cf-segment`, "enterprise"),
			chromedp.SendKeys(`#edit-cf-budget-amount`, "1500,50", chromedp.ByQuery),
			chromedp.SendKeys(`#edit-cf-budget-currency`, "rub", chromedp.ByQuery),
			browsertest.Click(`[data-testid="contact-update"]`),
			chromedp.WaitVisible(`[data-testid="contact-saved"]`, chromedp.ByQuery))
		c := contact(a)
		if got := c.Str("position"); got != "Руководитель отдела" {
			t.Fatalf("position after the edit = %q", got)
		}
		custom, _ := c.Body["custom"].(map[string]any)
		budget, _ := custom["budget"].(map[string]any)
		if custom["segment"] != "enterprise" || budget["amount"] != float64(150050) || budget["currency"] != "RUB" {
			t.Fatalf("custom values after the edit: %v", c.Body["custom"])
		}
		if h := text(t, ctx, `h1 + .muted`); h != "Руководитель отдела" {
			t.Fatalf("the card shows the position %q", h)
		}
	}) {
		return
	}

	if !t.Run("someone else's change meanwhile: a conflict that keeps what was typed", func(t *testing.T) {
		browsertest.Run(t, ctx, "open the form",
			browsertest.Click(`[data-testid="contact-edit"]`),
			chromedp.WaitVisible(`#edit-position`, chromedp.ByQuery))
		p.API(t, "PATCH", "/v1/contacts/"+a, admin, map[string]any{"position": "Изменено через API", "tags": []string{"vip"}}, http.StatusOK)
		browsertest.Run(t, ctx, "save over it",
			retype(`#edit-position`, "Моя должность"),
			browsertest.Click(`[data-testid="contact-update"]`),
			chromedp.WaitVisible(`[data-testid="conflict-notice"]`, chromedp.ByQuery))
		notice := text(t, ctx, `[data-testid="conflict-notice"]`)
		if !strings.Contains(notice, "Изменено через API") || !strings.Contains(notice, "Моя должность") {
			t.Fatalf("the conflict notice does not show both values: %q", notice)
		}
		var typed string
		browsertest.Run(t, ctx, "typed value", chromedp.Value(`#edit-position`, &typed, chromedp.ByQuery))
		if typed != "Моя должность" {
			t.Fatalf("after the conflict the position field holds %q, not what was typed", typed)
		}
		// The other person's tag is loaded into the form, not overwritten.
		var tags string
		browsertest.Run(t, ctx, "tags", chromedp.Text(`.taglist`, &tags, chromedp.ByQuery))
		if !strings.Contains(tags, "vip") {
			t.Fatalf("the fresh tags are not in the form: %q", tags)
		}
		if got := contact(a).Str("position"); got != "Изменено через API" {
			t.Fatalf("the refused save changed the position to %q", got)
		}
		browsertest.Screenshot(t, ctx, "merge-card-conflict")
		browsertest.Run(t, ctx, "save again",
			browsertest.Click(`[data-testid="contact-update"]`),
			chromedp.WaitVisible(`[data-testid="contact-saved"]`, chromedp.ByQuery))
		c := contact(a)
		if c.Str("position") != "Моя должность" || !slices.Equal(strs(c.Body["tags"]), []string{"vip"}) {
			t.Fatalf("after saving again: position %q, tags %v", c.Str("position"), c.Body["tags"])
		}
	}) {
		return
	}

	if !t.Run("an invalid e-mail is named under its field", func(t *testing.T) {
		browsertest.Run(t, ctx, "add a bad e-mail",
			browsertest.Click(`[data-testid="contact-edit"]`),
			chromedp.WaitVisible(`[data-testid="edit-add-email"]`, chromedp.ByQuery),
			browsertest.Click(`[data-testid="edit-add-email"]`),
			chromedp.WaitVisible(`#edit-emails-1`, chromedp.ByQuery),
			chromedp.SendKeys(`#edit-emails-1`, "not-an-email", chromedp.ByQuery),
			browsertest.Click(`[data-testid="contact-update"]`),
			chromedp.WaitVisible(`[data-testid="edit-email-row"][data-index="1"] [data-testid="field-error"]`, chromedp.ByQuery))
		var under0, invalid bool
		browsertest.Run(t, ctx, "where the error is", chromedp.Evaluate(`!!document.querySelector('[data-testid="edit-email-row"][data-index="0"] [data-testid="field-error"]')`, &under0),
			chromedp.Evaluate(`document.querySelector('#edit-emails-1').getAttribute('aria-invalid') === 'true'`, &invalid))
		if under0 || !invalid {
			t.Fatalf("the error is under the first e-mail (%v) or the second is not marked invalid (%v)", under0, invalid)
		}
		if msg := text(t, ctx, `[data-testid="edit-email-row"][data-index="1"] [data-testid="field-error"]`); !strings.Contains(msg, "e-mail") {
			t.Fatalf("the e-mail's error says %q", msg)
		}
		browsertest.Screenshot(t, ctx, "merge-card-field-error")
		if got := strs(contact(a).Body["emails"]); !slices.Equal(got, []string{"p.smirnov@example.ru"}) {
			t.Fatalf("the refused e-mail was stored: %v", got)
		}
		browsertest.Run(t, ctx, "cancel", browsertest.Click(`[data-testid="contact-edit-cancel"]`),
			chromedp.WaitVisible(`[data-testid="contact-edit"]`, chromedp.ByQuery))
	}) {
		return
	}

	if !t.Run("merge the pair, choosing per field", func(t *testing.T) {
		targetPosition := contact(a).Str("position")
		pair := fmt.Sprintf(`[data-testid="dup-pair"][data-ids*=%q][data-ids*=%q]`, a, b)
		browsertest.Run(t, ctx, "the duplicates",
			chromedp.Navigate(p.Gateway+"/duplicates"), platform.Ready(),
			chromedp.WaitVisible(pair, chromedp.ByQuery))
		if row := text(t, ctx, pair); !strings.Contains(row, "Петя") || !strings.Contains(row, "Пётр") || !strings.Contains(row, "p.smirnov@example.ru") {
			t.Fatalf("the pair does not show both names and why: %q", row)
		}
		browsertest.Axe(t, ctx, "duplicates")
		browsertest.Screenshot(t, ctx, "merge-duplicates")

		browsertest.Run(t, ctx, "open the merge panel",
			browsertest.Click(pair+` [data-testid="dup-merge"]`),
			chromedp.WaitVisible(`[data-testid="merge-panel"] [data-testid="merge-confirm"]`, chromedp.ByQuery),
			browsertest.Click(fmt.Sprintf(`[data-testid="merge-survivor"][value=%q]`, a)),
			browsertest.Click(fmt.Sprintf(`[data-testid="merge-choice"][name="first_name"][value=%q]`, b)),
			browsertest.Click(fmt.Sprintf(`[data-testid="merge-choice"][name="position"][value=%q]`, a)),
			browsertest.Click(fmt.Sprintf(`[data-testid="merge-choice"][name="custom/segment"][value=%q]`, b)))
		var last bool
		browsertest.Run(t, ctx, "no choice for what they share",
			chromedp.Evaluate(`!!document.querySelector('[data-testid="merge-choice"][name="last_name"]')`, &last))
		if last {
			t.Fatal("the panel offers a choice of last name, which both share")
		}
		browsertest.Axe(t, ctx, "merge panel")
		browsertest.Screenshot(t, ctx, "merge-panel")

		browsertest.Run(t, ctx, "merge",
			browsertest.Click(`[data-testid="merge-confirm"]`),
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="contact-card"][data-id=%q] [data-testid="contact-unmerge"][data-id=%q]`, a, b), chromedp.ByQuery))
		var loc string
		browsertest.Run(t, ctx, "where", chromedp.Location(&loc))
		if !strings.HasSuffix(loc, "/contacts/"+a) {
			t.Fatalf("after the merge the browser is at %s, want the survivor's card", loc)
		}
		c := contact(a)
		if c.Str("first_name") != "Петя" || c.Str("position") != targetPosition {
			t.Fatalf("the survivor has first name %q and position %q, want Петя and %q", c.Str("first_name"), c.Str("position"), targetPosition)
		}
		if custom, _ := c.Body["custom"].(map[string]any); custom["segment"] != "smb" || custom["budget"] == nil {
			t.Fatalf("the survivor's custom values: %v, want the other's segment and its own budget", c.Body["custom"])
		}
		if got := strs(c.Body["emails"]); !slices.Equal(got, []string{"p.smirnov@example.ru", "petya.smirnov@example.ru"}) {
			t.Fatalf("the survivor's e-mails are %v, want both contacts'", got)
		}
		gone := testenv.Call(t, "GET", p.Gateway+"/v1/contacts/"+b, admin, nil)
		if gone.Status != http.StatusNotFound || gone.Str("merged_into") != a {
			t.Fatalf("the merged contact answers %d: %s", gone.Status, gone.Raw)
		}
		browsertest.Run(t, ctx, "the timeline has the merge",
			chromedp.WaitVisible(`[data-testid="timeline"] li[data-type="crm.contact.merged"]`, chromedp.ByQuery))
		browsertest.Screenshot(t, ctx, "merge-card-merged")

		// The merged-away contact's card leads to the survivor.
		into := fmt.Sprintf(`[data-testid="merged-into"] a[href="/contacts/%s"]`, a)
		browsertest.Run(t, ctx, "the merged contact's card",
			chromedp.Navigate(p.Gateway+"/contacts/"+b), platform.Ready(),
			chromedp.WaitVisible(into, chromedp.ByQuery))
		browsertest.Screenshot(t, ctx, "merge-card-merged-away")
		browsertest.Run(t, ctx, "follow it",
			browsertest.Click(into),
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="contact-card"][data-id=%q] [data-testid="contact-unmerge"][data-id=%q]`, a, b), chromedp.ByQuery))
	}) {
		return
	}

	if !t.Run("unmerge", func(t *testing.T) {
		browsertest.Run(t, ctx, "unmerge",
			browsertest.Click(fmt.Sprintf(`[data-testid="contact-unmerge"][data-id=%q]`, b)),
			chromedp.WaitVisible(`[data-testid="unmerge-done"]`, chromedp.ByQuery))
		back := contact(b)
		if back.Str("first_name") != "Петя" || back.Str("position") != "Директор" {
			t.Fatalf("the restored contact: %s", back.Raw)
		}
		if got := strs(back.Body["emails"]); !slices.Equal(got, []string{"p.smirnov@example.ru", "petya.smirnov@example.ru"}) {
			t.Fatalf("the restored contact's e-mails: %v", got)
		}
		if got := strs(contact(a).Body["emails"]); slices.Contains(got, "petya.smirnov@example.ru") {
			t.Fatalf("the survivor kept the restored contact's own e-mail: %v", got)
		}
		var left bool
		browsertest.Run(t, ctx, "the timeline has the unmerge",
			chromedp.WaitVisible(`[data-testid="timeline"] li[data-type="crm.contact.unmerged"]`, chromedp.ByQuery),
			chromedp.Evaluate(`!!document.querySelector('[data-testid="contact-unmerge"]')`, &left))
		if left {
			t.Fatal("the card still offers to unmerge")
		}
		browsertest.Screenshot(t, ctx, "merge-card-unmerged")
	}) {
		return
	}

	t.Run("a viewer may not edit", func(t *testing.T) {
		vctx := browsertest.New(t)
		p.SignIn(t, vctx, "/contacts/"+a, "demo", "viewer", "viewer1@demo", "team-1")
		var edit bool
		browsertest.Run(t, vctx, "the card",
			chromedp.WaitVisible(fmt.Sprintf(`[data-testid="contact-card"][data-id=%q] h1`, a), chromedp.ByQuery),
			chromedp.Evaluate(`!!document.querySelector('[data-testid="contact-edit"]')`, &edit))
		if edit {
			t.Fatal("a viewer is offered to edit")
		}
	})
}
