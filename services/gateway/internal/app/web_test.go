package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/oidctest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// sessionKey is a fresh WEB_SESSION_KEYS value.
func sessionKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// webGateway is a gateway whose web sign-in goes to a real OpenID provider
// holding one user, manager@acme, of a tenant the gateway knows.
type webGateway struct {
	*harness
	provider *oidctest.Provider
	tenant   uuid.UUID
}

const webUser, webPassword = "manager@acme", "correct horse"

func startWeb(t *testing.T) webGateway {
	t.Helper()
	w := webGateway{tenant: uuid.New()}
	w.harness = start(t, options{web: func(t *testing.T, gw string) map[string]string {
		w.provider = oidctest.Start(t, "rapport", gw+"/auth/callback",
			oidctest.User{Username: webUser, Password: webPassword, Tenant: w.tenant, Roles: []string{"manager"}, Team: "north"})
		return map[string]string{
			"AUTH_PUBLIC_KEY_FILE": "", "AUTH_JWKS_URL": w.provider.KeysURL, "AUTH_ISSUER": w.provider.Issuer, "AUTH_AUDIENCE": "rapport",
			"WEB_OIDC_ISSUER": w.provider.Issuer, "WEB_OIDC_CLIENT_ID": "rapport", "WEB_OIDC_CLIENT_SECRET": oidctest.ClientSecret,
			"WEB_PUBLIC_URL": gw, "WEB_SESSION_KEYS": sessionKey(t),
		}
	}})
	w.publish(&tenancyv1.TenantRecord{Id: w.tenant.String(), Generation: 1, Name: "acme", Locale: "ru"})
	return w
}

// browser is an HTTP client that keeps cookies, as a browser does.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// signIn walks the authorization code flow as a person would: the gateway
// sends the browser to the provider, the person types their password on the
// provider's page, the provider sends the browser back with a code. It
// returns the page the browser ends on.
func (w webGateway) signIn(t *testing.T, c *http.Client, password, ret string) *http.Response {
	t.Helper()
	res, err := c.Get(w.url + "/auth/login?return=" + url.QueryEscape(ret))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if !strings.HasPrefix(res.Request.URL.String(), w.provider.Issuer+"/login/username") {
		t.Fatalf("sign-in went to %s, not the provider's login page", res.Request.URL)
	}
	authRequest := res.Request.URL.Query().Get("authRequestID")
	res, err = c.PostForm(w.provider.Issuer+"/login/username", url.Values{"id": {authRequest}, "username": {webUser}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type sessionView struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	TenantName  string    `json:"tenant_name"`
	User        string    `json:"user"`
	Roles       []string  `json:"roles"`
	Team        string    `json:"team"`
	Locale      string    `json:"locale"`
	CSRF        string    `json:"csrf"`
	Dev         bool      `json:"dev"`
	Departments []struct {
		ID   uuid.UUID `json:"id"`
		Name string    `json:"name"`
	} `json:"departments"`
}

func session(t *testing.T, c *http.Client, base string) (sessionView, int) {
	t.Helper()
	res, err := c.Get(base + "/auth/session")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v sessionView
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return v, res.StatusCode
}

func send(t *testing.T, c *http.Client, method, u, csrf string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(`{"first_name":"Ann"}`))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	return roundTrip(t, c, req)
}

func TestWebSignInThroughOpenIDProvider(t *testing.T) {
	w := startWeb(t)
	c := browser(t)

	res := w.signIn(t, c, webPassword, "/board?pipeline=1")
	_ = res.Body.Close()
	if res.Request.URL.Path != "/board" || res.Request.URL.RawQuery != "pipeline=1" || !strings.HasPrefix(res.Request.URL.String(), w.url) {
		t.Fatalf("after sign-in the browser is at %s, want %s/board?pipeline=1", res.Request.URL, w.url)
	}
	gw, _ := url.Parse(w.url)
	var cookie *http.Cookie
	for _, ck := range c.Jar.Cookies(gw) {
		if ck.Name == "rapport-session" {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatalf("no session cookie; have %v", c.Jar.Cookies(gw))
	}
	if strings.Count(cookie.Value, ".") == 2 {
		t.Fatal("the session cookie looks like a bare JWT: tokens must stay on the server")
	}

	s, status := session(t, c, w.url)
	if status != http.StatusOK || s.TenantID != w.tenant || s.User != webUser || len(s.Roles) != 1 || s.Roles[0] != "manager" ||
		s.Team != "north" || s.TenantName != "acme" || s.Locale != "ru" || s.CSRF == "" || s.Dev {
		t.Fatalf("session = %d %+v", status, s)
	}

	// A read carries the session; the service sees the provider's access
	// token as the bearer and never the cookie.
	if have := send(t, c, http.MethodGet, w.url+"/v1/contacts", ""); have.status/100 != 2 {
		t.Fatalf("GET /v1/contacts with the session = %d %s", have.status, have.body)
	}
	got := w.upstream.requests()
	last := got[len(got)-1]
	if bearer := strings.TrimPrefix(last.Header.Get("Authorization"), "Bearer "); strings.Count(bearer, ".") != 2 {
		t.Fatalf("the service got Authorization %q, want the access token", last.Header.Get("Authorization"))
	}
	if last.Header.Get("Cookie") != "" {
		t.Fatalf("the service got the browser's cookies: %q", last.Header.Get("Cookie"))
	}
	if cc := send(t, c, http.MethodGet, w.url+"/v1/contacts", "").header.Get("Cache-Control"); cc != "private, no-store" {
		t.Fatalf("an answer for a session's cookie may be cached: Cache-Control %q", cc)
	}
	// The public API descriptions pass by the session, and the cookie stays
	// at the gateway there too.
	send(t, c, http.MethodGet, w.url+"/v1/contacts/openapi.json", "")
	got = w.upstream.requests()
	if last := got[len(got)-1]; last.Path != "/v1/contacts/openapi.json" || last.Header.Get("Cookie") != "" {
		t.Fatalf("the service got %s with Cookie %q", last.Path, last.Header.Get("Cookie"))
	}

	// A write without the CSRF token is refused before any service sees it.
	before := len(w.upstream.requests())
	wantProblem(t, send(t, c, http.MethodPost, w.url+"/v1/contacts", ""), http.StatusForbidden, "csrf-failed")
	wantProblem(t, send(t, c, http.MethodPost, w.url+"/v1/contacts", "forged"), http.StatusForbidden, "csrf-failed")
	if n := len(w.upstream.requests()); n != before {
		t.Fatalf("a write without the CSRF token reached the service (%d requests, want %d)", n, before)
	}
	if have := send(t, c, http.MethodPost, w.url+"/v1/contacts", s.CSRF); have.status/100 != 2 {
		t.Fatalf("POST with the CSRF token = %d %s", have.status, have.body)
	}
	got = w.upstream.requests()
	if last := got[len(got)-1]; last.Header.Get("X-CSRF-Token") != "" {
		t.Fatal("the service got the session's CSRF token")
	}

	// Signing out needs the CSRF token too, ends the session and sends the
	// browser to the provider's logout, back to the signed-out page.
	wantProblem(t, send(t, c, http.MethodPost, w.url+"/auth/logout", ""), http.StatusForbidden, "csrf-failed")
	out := send(t, c, http.MethodPost, w.url+"/auth/logout", s.CSRF)
	var next struct{ Redirect string }
	_ = json.Unmarshal(out.body, &next)
	if out.status != http.StatusOK || !strings.HasPrefix(next.Redirect, w.provider.Issuer) ||
		!strings.Contains(next.Redirect, url.QueryEscape(w.url+"/auth/signed-out")) {
		t.Fatalf("logout = %d %s", out.status, out.body)
	}
	if _, status := session(t, c, w.url); status != http.StatusUnauthorized {
		t.Fatalf("session after logout = %d, want 401", status)
	}
	wantProblem(t, send(t, c, http.MethodGet, w.url+"/v1/contacts", ""), http.StatusUnauthorized, "unauthenticated")
}

func TestWebSignInRefusals(t *testing.T) {
	w := startWeb(t)

	t.Run("a wrong password stays on the provider", func(t *testing.T) {
		c := browser(t)
		res := w.signIn(t, c, "wrong", "/")
		_ = res.Body.Close()
		if !strings.HasPrefix(res.Request.URL.String(), w.provider.Issuer) {
			t.Fatalf("a wrong password led to %s", res.Request.URL)
		}
		if _, status := session(t, c, w.url); status != http.StatusUnauthorized {
			t.Fatalf("session = %d, want 401", status)
		}
	})
	t.Run("a callback this browser did not start is refused", func(t *testing.T) {
		c := browser(t)
		res, err := c.Get(w.url + "/auth/callback?code=stolen&state=guessed")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Sign in again") {
			t.Fatalf("forged callback = %d %s", res.StatusCode, body)
		}
		if _, status := session(t, c, w.url); status != http.StatusUnauthorized {
			t.Fatalf("session = %d, want 401", status)
		}
	})
	t.Run("the provider's refusal is shown by its code, its words are not", func(t *testing.T) {
		c := browser(t)
		// The sign-in this browser started: its state, from the redirect.
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := c.Get(w.url + "/auth/login")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		to, _ := url.Parse(res.Header.Get("Location"))
		words := url.QueryEscape("Call support at +1 555 0100")
		res, err = c.Get(w.url + "/auth/callback?error=access_denied&error_description=" + words + "&state=" + to.Query().Get("state"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "access_denied") || strings.Contains(string(body), "555") {
			t.Fatalf("provider error = %d %s", res.StatusCode, body)
		}
		// Without this browser's state, nobody's words or codes are shown.
		res, err = browser(t).Get(w.url + "/auth/callback?error=access_denied&error_description=" + words)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("a stranger's error = %d, want 400", res.StatusCode)
		}
	})
	t.Run("another site cannot sign people out", func(t *testing.T) {
		// A cross-site form carries no SameSite=Lax cookie: nothing to clear.
		res, err := http.Post(w.url+"/auth/logout", "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNoContent || len(res.Cookies()) != 0 {
			t.Fatalf("logout without a session = %d, cookies %v", res.StatusCode, res.Cookies())
		}
	})
	t.Run("a cookie sealed elsewhere is no session", func(t *testing.T) {
		c := browser(t)
		gw, _ := url.Parse(w.url)
		c.Jar.SetCookies(gw, []*http.Cookie{{Name: "rapport-session", Value: base64.RawURLEncoding.EncodeToString(make([]byte, 200))}})
		if _, status := session(t, c, w.url); status != http.StatusUnauthorized {
			t.Fatalf("session = %d, want 401", status)
		}
		wantProblem(t, send(t, c, http.MethodGet, w.url+"/v1/contacts", ""), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("the return address stays on this site", func(t *testing.T) {
		c := browser(t)
		res := w.signIn(t, c, webPassword, "//evil.example/x")
		_ = res.Body.Close()
		if !strings.HasPrefix(res.Request.URL.String(), w.url+"/") || res.Request.URL.Path != "/" {
			t.Fatalf("after sign-in the browser is at %s, want %s/", res.Request.URL, w.url)
		}
	})
}

var stateField = regexp.MustCompile(`name="state" value="([^"]+)"`)

func TestDevSignInInLocalMode(t *testing.T) {
	h := start(t, options{web: func(t *testing.T, gw string) map[string]string {
		return map[string]string{"WEB_SESSION_KEYS": sessionKey(t), "WEB_PUBLIC_URL": gw}
	}})
	// Without WEB_DEV_SIGNIN_URL there is no dev page.
	c := browser(t)
	res, err := c.Get(h.url + "/auth/dev")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("/auth/dev without local mode = %d, want 404", res.StatusCode)
	}

	h = start(t, options{devSignIn: true, web: func(t *testing.T, gw string) map[string]string {
		return map[string]string{"WEB_SESSION_KEYS": sessionKey(t)}
	}})
	tenant := h.tenant(0)
	dept := uuid.New()
	h.publish(&tenancyv1.TenantRecord{Id: dept.String(), Generation: 1, Name: "north", ParentId: tenant.String(), ParentChain: []string{tenant.String()}})

	res, err = c.Get(h.url + "/auth/login?return=/day")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.Request.URL.Path != "/auth/dev" || !strings.Contains(string(form), tenant.String()) {
		t.Fatalf("login in local mode went to %s:\n%s", res.Request.URL, form)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("the dev page's CSP is %q", csp)
	}
	state := stateField.FindStringSubmatch(string(form))
	if state == nil {
		t.Fatalf("no state in the form:\n%s", form)
	}
	// The form's state is this browser's: another's is refused.
	res, err = browser(t).PostForm(h.url+"/auth/dev", url.Values{"state": {state[1]}, "tenant": {tenant.String()}, "role": {"rep"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a dev sign-in from another browser = %d, want 400", res.StatusCode)
	}

	res, err = c.PostForm(h.url+"/auth/dev", url.Values{"state": {state[1]}, "tenant": {tenant.String()}, "role": {"rep"}, "user": {"rep7"}, "team": {"south"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.Request.URL.Path != "/day" {
		t.Fatalf("after the dev sign-in the browser is at %s, want /day", res.Request.URL)
	}
	s, status := session(t, c, h.url)
	if status != http.StatusOK || s.TenantID != tenant || s.User != "rep7" || s.Roles[0] != "rep" || s.Team != "south" || !s.Dev || len(s.Departments) != 0 {
		t.Fatalf("session = %d %+v", status, s)
	}
	if have := send(t, c, http.MethodGet, h.url+"/v1/contacts", ""); have.status/100 != 2 {
		t.Fatalf("GET /v1/contacts with the dev session = %d %s", have.status, have.body)
	}

	// An admin is told the departments below their tenant.
	a := browser(t)
	res, err = a.Get(h.url + "/auth/dev")
	if err != nil {
		t.Fatal(err)
	}
	form, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	state = stateField.FindStringSubmatch(string(form))
	res, err = a.PostForm(h.url+"/auth/dev", url.Values{"state": {state[1]}, "tenant": {tenant.String()}, "role": {"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	s, _ = session(t, a, h.url)
	if len(s.Departments) != 1 || s.Departments[0].ID != dept || s.Departments[0].Name != "north" {
		t.Fatalf("an admin's departments = %+v", s.Departments)
	}
}

// A person signs in in a real browser: Chromium follows the gateway to the
// provider's login page, types the password, comes back signed in, and the
// session cookie is one page scripts cannot read.
func TestWebSignInInChromium(t *testing.T) {
	w := startWeb(t)
	ctx := browsertest.New(t)
	browsertest.Run(t, ctx, "sign in at the provider",
		chromedp.Navigate(w.url+"/auth/login?return=/day"),
		chromedp.WaitVisible(`#username`, chromedp.ByQuery),
		chromedp.SendKeys(`#username`, webUser, chromedp.ByQuery),
		chromedp.SendKeys(`#password`, webPassword, chromedp.ByQuery),
		chromedp.Submit(`#password`, chromedp.ByQuery),
	)
	var loc string
	testenvEventually(t, func() bool {
		browsertest.Run(t, ctx, "location", chromedp.Location(&loc))
		return strings.HasPrefix(loc, w.url+"/day")
	})
	var got struct {
		Session sessionView `json:"session"`
		Cookies string      `json:"cookies"`
	}
	browsertest.Run(t, ctx, "the session as the page sees it", chromedp.Evaluate(
		`fetch('/auth/session').then(r => r.json()).then(s => ({session: s, cookies: document.cookie}))`, &got,
		func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if got.Session.User != webUser || got.Session.TenantID != w.tenant || got.Session.CSRF == "" {
		t.Fatalf("the page's session: %+v", got.Session)
	}
	if strings.Contains(got.Cookies, "rapport-session") {
		t.Fatalf("page scripts can read the session cookie: %q", got.Cookies)
	}
	var cookies []*network.Cookie
	browsertest.Run(t, ctx, "cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{w.url}).Do(ctx)
		return err
	}))
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == "rapport-session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax || session.Path != "/" {
		t.Fatalf("the session cookie in Chromium: %+v", session)
	}
}

func testenvEventually(t *testing.T, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, "the browser arrives", cond)
}
