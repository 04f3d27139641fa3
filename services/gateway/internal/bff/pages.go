package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// The few pages the gateway renders itself: the dev sign-in form, sign-in
// errors and "signed out". They run under the same CSP as the application:
// no inline script or style.
const (
	pageError     = "error"
	pageSignedOut = "signed-out"
	pageDev       = "dev"
)

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Rapport</title><link rel="stylesheet" href="/auth/style.css"></head>
<body><main class="card"><h1>Rapport</h1>{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "error"}}{{template "head" .}}<h2>Sign-in failed</h2><p role="alert">{{.Message}}</p>
<p><a href="/auth/login">Sign in again</a></p>{{template "foot"}}{{end}}

{{define "signed-out"}}{{template "head" .}}<h2>You have signed out</h2>
<p><a href="/auth/login">Sign in again</a></p>{{template "foot"}}{{end}}

{{define "dev"}}{{template "head" .}}<h2>Development sign-in</h2>
<p class="note">This page exists only in local mode (make run). Choose who you are; no password is asked.</p>
<form method="post" action="/auth/dev">
<input type="hidden" name="state" value="{{.State}}">
<label for="tenant">Tenant</label>
{{if .Tenants}}<select id="tenant" name="tenant">{{range .Tenants}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</select>
{{else}}<input id="tenant" name="tenant" required placeholder="tenant id">{{end}}
<label for="role">Role</label>
<select id="role" name="role">{{range .Roles}}<option>{{.}}</option>{{end}}</select>
<label for="user">User</label>
<input id="user" name="user" autocomplete="username" placeholder="role@tenant (default)">
<label for="team">Team</label>
<input id="team" name="team" value="team-1">
<button type="submit">Sign in</button>
</form>{{template "foot"}}{{end}}
`))

const style = `:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;background:#f4f5f7}
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
.card{background:#fff;border:1px solid #dde0e6;border-radius:10px;padding:2rem 2.5rem;width:min(26rem,90vw);box-shadow:0 2px 10px rgba(0,0,0,.05)}
h1{font-size:1.1rem;margin:0 0 1rem;color:#3b4bdb}h2{font-size:1.4rem;margin:0 0 1rem}
label{display:block;margin:.9rem 0 .3rem;font-weight:600}
input,select{width:100%;box-sizing:border-box;padding:.55rem .6rem;border:1px solid #8a93a6;border-radius:6px;font:inherit}
button{margin-top:1.4rem;width:100%;padding:.65rem;border:0;border-radius:6px;background:#3b4bdb;color:#fff;font:inherit;font-weight:600;cursor:pointer}
:focus-visible{outline:3px solid #f5a524;outline-offset:2px}.note{color:#4a5263}a{color:#2f3cc0}`

func pageStyle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(style))
}

type pageData struct {
	Title, Message, State string
	Tenants               []tenantOption
	Roles                 []string
}

type tenantOption struct {
	ID   uuid.UUID
	Name string
}

func (b *BFF) page(w http.ResponseWriter, r *http.Request, status int, name, message string) {
	b.render(w, r, status, name, pageData{Title: map[string]string{pageError: "Sign-in failed", pageSignedOut: "Signed out"}[name], Message: message})
}

func (b *BFF) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	SecurityHeaders(w.Header(), b.secure && b.cfg.PublicURL != nil)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		b.log.ErrorContext(r.Context(), "render "+name, "err", err)
	}
}

// devForm asks who to be; only in local mode.
func (b *BFF) devForm(w http.ResponseWriter, r *http.Request) {
	if b.devSignin == "" {
		b.page(w, r, http.StatusNotFound, pageError, "The development sign-in exists only in local mode.")
		return
	}
	s := signin{State: random(24), Return: returnPath(r.URL.Query().Get("return")), Expires: b.now().Add(signinTTL)}
	if err := b.setSignin(w, s); err != nil {
		b.failed(w, r, err)
		return
	}
	d := pageData{Title: "Development sign-in", State: s.State, Roles: []string{auth.RoleAdmin, auth.RoleManager, auth.RoleRep, auth.RoleAnalyst, auth.RoleViewer}}
	for _, t := range b.dir.Tenants() {
		d.Tenants = append(d.Tenants, tenantOption{ID: t.ID, Name: displayName(t)})
	}
	b.render(w, r, http.StatusOK, pageDev, d)
}

// devSignIn signs a dev token for the chosen tenant, role and user and
// keeps it as the session, as a provider's token would be.
func (b *BFF) devSignIn(w http.ResponseWriter, r *http.Request) {
	if b.devSignin == "" {
		b.page(w, r, http.StatusNotFound, pageError, "The development sign-in exists only in local mode.")
		return
	}
	s, ok := b.takeSignin(w, r)
	if !ok || !csrfMatches(r.PostFormValue("state"), s.State) {
		b.page(w, r, http.StatusBadRequest, pageError, "This sign-in form has expired. Open it again.")
		return
	}
	tenant, err := uuid.Parse(strings.TrimSpace(r.PostFormValue("tenant")))
	if err != nil {
		b.page(w, r, http.StatusUnprocessableEntity, pageError, "tenant: choose a tenant (a UUID).")
		return
	}
	role := r.PostFormValue("role")
	if !slices.Contains([]string{auth.RoleAdmin, auth.RoleManager, auth.RoleRep, auth.RoleAnalyst, auth.RoleViewer}, role) {
		b.page(w, r, http.StatusUnprocessableEntity, pageError, "role: "+role+" is not a role.")
		return
	}
	user := strings.TrimSpace(r.PostFormValue("user"))
	if user == "" {
		name := tenant.String()
		if t, ok := b.dir.Lookup(tenant); ok {
			name = t.Name
		}
		user = role + "@" + name
	}
	ttl := min(b.cfg.SessionTTL, b.maxDevTTL)
	tok, err := b.devToken(r.Context(), devTokenRequest{TenantID: tenant, User: user, Role: role, Team: strings.TrimSpace(r.PostFormValue("team")), TTL: int64(ttl.Seconds())})
	if err != nil {
		b.log.ErrorContext(r.Context(), "dev sign-in", "err", err)
		b.page(w, r, http.StatusBadGateway, pageError, "The development token could not be signed: is make run still running?")
		return
	}
	now := b.now()
	if err := b.setSession(w, session{Access: tok, Expiry: now.Add(ttl), CSRF: random(24), Created: now, Dev: true}); err != nil {
		b.failed(w, r, err)
		return
	}
	http.Redirect(w, r, s.Return, http.StatusSeeOther)
}

// devTokenRequest is what make run's signer takes (deploy/local).
type devTokenRequest struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Role     string    `json:"role"`
	User     string    `json:"user"`
	Team     string    `json:"team"`
	TTL      int64     `json:"ttl_seconds"`
}

// devToken asks make run's signer for a dev token.
func (b *BFF) devToken(ctx context.Context, req devTokenRequest) (string, error) {
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, b.devSignin, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return "", fmt.Errorf("the signer answered %d: %s", res.StatusCode, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("the signer's answer has no token: %v", err)
	}
	return out.Token, nil
}

// SecurityHeaders are sent with every page: a strict Content Security
// Policy (no inline script or style, nothing from elsewhere), no framing,
// no sniffing, no referrer beyond this site; over https, HSTS.
func SecurityHeaders(h http.Header, https bool) {
	if https {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
