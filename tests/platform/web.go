package platform

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// Ready waits until the web application has rendered its page's data (it
// sets body[data-ready=1]).
func Ready() chromedp.Action {
	return chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery)
}

// SignIn opens path of the web application in the browser of ctx and signs
// in on the development page as role (and user of team, "" for the
// defaults) of tenant, ending on path with its data on screen.
func (p *Platform) SignIn(t testing.TB, ctx context.Context, path, tenant, role, user, team string) {
	t.Helper()
	browsertest.Run(t, ctx, "sign in as "+role,
		chromedp.Navigate(p.Gateway+path),
		chromedp.WaitVisible(`#tenant`, chromedp.ByQuery),
		chromedp.Evaluate(fmt.Sprintf(`(() => {
			const set = (id, v) => { document.getElementById(id).value = v; };
			set('tenant', %q); set('role', %q); set('user', %q); set('team', %q);
			return true;
		})()`, tenancy.LocalID(tenant).String(), role, user, team), nil),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		Ready(),
	)
	var loc string
	browsertest.Run(t, ctx, "where", chromedp.Location(&loc))
	if !strings.HasSuffix(loc, path) {
		t.Fatalf("after sign-in the browser is at %s, want %s", loc, path)
	}
}
