// Package bff is the gateway's backend for the web application: people
// sign in with OpenID Connect (authorization code with PKCE), the gateway
// keeps their tokens, and the browser holds only a sealed, HttpOnly,
// SameSite session cookie it can neither read nor forge. API calls that
// carry the cookie get the user's access token as their bearer on the way
// through; writes must also carry the session's CSRF token.
package bff

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// CSRFHeader carries the session's CSRF token on every write.
const CSRFHeader = "X-CSRF-Token"

const (
	// signinTTL bounds a sign-in from the redirect to the provider to the
	// callback.
	signinTTL = 10 * time.Minute
	// refreshAhead renews an access token this long before it expires.
	refreshAhead = 30 * time.Second
	// defaultAccessTTL is assumed when the provider does not say.
	defaultAccessTTL = 5 * time.Minute
)

// session is what the session cookie holds, sealed.
type session struct {
	Access  string    `json:"a"`
	Refresh string    `json:"r,omitempty"`
	Expiry  time.Time `json:"e"`
	CSRF    string    `json:"c"`
	Created time.Time `json:"t"`
	Dev     bool      `json:"d,omitempty"`
}

// signin is what the sign-in cookie holds between the redirect to the
// provider (or the dev form) and the callback.
type signin struct {
	State    string    `json:"s"`
	Verifier string    `json:"v,omitempty"`
	Nonce    string    `json:"n,omitempty"`
	Return   string    `json:"r"`
	Expires  time.Time `json:"e"`
}

// BFF signs people in and turns their session into a bearer token.
type BFF struct {
	cfg    Config
	seal   *sealer
	verify auth.Verifier
	dir    *tenancy.Directory
	log    *slog.Logger
	// devSignin signs dev tokens (make run's signer); empty outside local mode.
	devSignin string
	// maxDevTTL is the longest dev token the services accept.
	maxDevTTL time.Duration

	secure                      bool
	sessionCookie, signinCookie string

	mu       sync.Mutex
	provider *oidcProvider // discovered on first use
	refresh  singleflight.Group
	recentMu sync.Mutex
	recent   map[string]refreshed
	now      func() time.Time
}

type oidcProvider struct {
	oauth    *oauth2.Config
	idTokens *oidc.IDTokenVerifier
	// revocation and endSession are the provider's RFC 7009 and
	// RP-initiated logout endpoints, when it has them.
	revocation, endSession string
}

// providerTimeout bounds every call to the provider.
const providerTimeout = 10 * time.Second

// refreshed remembers, for a minute, what an old refresh token was
// exchanged for: a request that left the browser before the renewed cookie
// came back still carries the old one, and providers that rotate refresh
// tokens would take a second use for theft and revoke them all.
type refreshed struct {
	tok *oauth2.Token
	at  time.Time
}

// New builds the sign-in side of the gateway. verify is the gateway's own
// token verifier: a token the provider issues must pass it, as it must pass
// every service's.
func New(cfg Config, a auth.Config, verify auth.Verifier, dir *tenancy.Directory, log *slog.Logger) (*BFF, error) {
	b := &BFF{cfg: cfg, verify: verify, dir: dir, log: log, now: time.Now, maxDevTTL: a.MaxTokenLifetime, recent: map[string]refreshed{}}
	if b.maxDevTTL == 0 {
		b.maxDevTTL = auth.DefaultMaxTokenLifetime
	}
	if !cfg.Enabled() {
		return b, nil
	}
	var err error
	if b.seal, err = newSealer(cfg.SessionKeys); err != nil {
		return nil, fmt.Errorf("WEB_SESSION_KEYS: %w", err)
	}
	b.devSignin = cfg.DevSigninURL
	// A __Host- cookie is Secure, host-only and for the whole site; plain
	// http is allowed on loopback only (make run), without the prefix.
	b.secure = cfg.PublicURL == nil || cfg.PublicURL.Scheme == "https"
	if cfg.PublicURL == nil && cfg.Issuer == "" {
		b.secure = false // dev sign-in alone: make run on http://127.0.0.1
	}
	b.sessionCookie, b.signinCookie = "rapport-session", "rapport-signin"
	if b.secure {
		b.sessionCookie, b.signinCookie = "__Host-"+b.sessionCookie, "__Host-"+b.signinCookie
	}
	return b, nil
}

// discover finds the provider's endpoints on first use, so that a gateway
// starts (and serves the API) while the provider is unreachable; sign-ins
// fail with a clear page meanwhile.
func (b *BFF) discover(ctx context.Context) (*oidcProvider, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.provider != nil {
		return b.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, b.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	b.provider = &oidcProvider{
		oauth: &oauth2.Config{
			ClientID: b.cfg.ClientID, ClientSecret: b.cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: b.cfg.PublicURL.JoinPath("/auth/callback").String(), Scopes: b.cfg.Scopes,
		},
		idTokens:   p.Verifier(&oidc.Config{ClientID: b.cfg.ClientID}),
		revocation: meta.Revocation, endSession: meta.EndSession,
	}
	return b.provider, nil
}

// Register mounts the sign-in routes on mux.
func (b *BFF) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /auth/login", b.login)
	mux.HandleFunc("GET /auth/callback", b.callback)
	mux.HandleFunc("GET /auth/dev", b.devForm)
	mux.HandleFunc("POST /auth/dev", b.devSignIn)
	mux.HandleFunc("GET /auth/session", b.sessionInfo)
	mux.HandleFunc("POST /auth/logout", b.logout)
	mux.HandleFunc("GET /auth/signed-out", b.signedOut)
	mux.HandleFunc("GET /auth/style.css", pageStyle)
}

// login starts a sign-in: to the provider with a fresh state, nonce and PKCE
// verifier, or to the dev form in local mode.
func (b *BFF) login(w http.ResponseWriter, r *http.Request) {
	ret := returnPath(r.URL.Query().Get("return"))
	switch {
	case b.cfg.Issuer != "":
		p, err := b.discover(r.Context())
		if err != nil {
			b.log.WarnContext(r.Context(), "sign-in: the OpenID provider cannot be reached", "issuer", b.cfg.Issuer, "err", err)
			b.page(w, r, http.StatusBadGateway, pageError, "The sign-in service cannot be reached. Try again in a minute.")
			return
		}
		s := signin{State: random(24), Verifier: oauth2.GenerateVerifier(), Nonce: random(24), Return: ret, Expires: b.now().Add(signinTTL)}
		if err := b.setSignin(w, s); err != nil {
			b.failed(w, r, err)
			return
		}
		http.Redirect(w, r, p.oauth.AuthCodeURL(s.State, oauth2.S256ChallengeOption(s.Verifier), oidc.Nonce(s.Nonce)), http.StatusFound)
	case b.devSignin != "":
		http.Redirect(w, r, "/auth/dev?return="+url.QueryEscape(ret), http.StatusFound)
	default:
		b.page(w, r, http.StatusNotImplemented, pageError, "Sign-in is not configured on this gateway (WEB_OIDC_ISSUER).")
	}
}

// callback finishes a provider sign-in: the state must be the one this
// browser was sent with, the code is exchanged with the PKCE verifier, the ID
// token's nonce must match, and the access token must be one Rapport accepts.
func (b *BFF) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s, ok := b.takeSignin(w, r)
	switch {
	case b.cfg.Issuer == "":
		b.page(w, r, http.StatusNotFound, pageError, "Sign-in with an identity provider is not configured.")
		return
	case !ok || subtle.ConstantTimeCompare([]byte(s.State), []byte(q.Get("state"))) != 1:
		// Checked first: only the sign-in this browser started may tell it
		// anything, so another site cannot put words on this origin.
		b.page(w, r, http.StatusBadRequest, pageError, "This sign-in has expired or was started in another browser. Sign in again.")
		return
	case q.Get("error") != "":
		b.log.InfoContext(r.Context(), "sign-in refused by the provider", "error", q.Get("error"), "description", q.Get("error_description"))
		b.page(w, r, http.StatusUnauthorized, pageError, "The identity provider refused the sign-in ("+errorCode(q.Get("error"))+").")
		return
	}
	p, err := b.discover(r.Context())
	if err != nil {
		b.page(w, r, http.StatusBadGateway, pageError, "The sign-in service cannot be reached. Try again in a minute.")
		return
	}
	tok, err := p.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(s.Verifier))
	if err != nil {
		b.log.WarnContext(r.Context(), "sign-in: code exchange failed", "err", err)
		b.page(w, r, http.StatusBadGateway, pageError, "The identity provider did not accept the sign-in code. Sign in again.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.idTokens.Verify(r.Context(), raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(s.Nonce)) != 1 {
		b.log.WarnContext(r.Context(), "sign-in: the ID token does not verify", "err", err)
		b.page(w, r, http.StatusUnauthorized, pageError, "The identity provider's answer could not be verified. Sign in again.")
		return
	}
	if _, err := b.verify.Verify(r.Context(), tok.AccessToken); err != nil {
		b.log.WarnContext(r.Context(), "sign-in: the access token is not one Rapport accepts", "subject", idt.Subject, "err", err)
		b.page(w, r, http.StatusForbidden, pageError, "You are signed in as "+idt.Subject+", but your account has no access to Rapport ("+errorMessage(err)+"). Ask your administrator.")
		return
	}
	exp := tok.Expiry
	if exp.IsZero() {
		exp = b.now().Add(defaultAccessTTL)
	}
	if err := b.setSession(w, session{Access: tok.AccessToken, Refresh: tok.RefreshToken, Expiry: exp, CSRF: random(24), Created: b.now()}); err != nil {
		b.failed(w, r, err)
		return
	}
	http.Redirect(w, r, s.Return, http.StatusFound)
}

// current is the request's session with an access token that is still
// good, refreshed (and the cookie renewed) when it is about to expire; ok is
// false when there is no usable session.
func (b *BFF) current(w http.ResponseWriter, r *http.Request) (session, bool) {
	if b.seal == nil {
		return session{}, false
	}
	c, err := r.Cookie(b.sessionCookie)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := b.seal.open(b.sessionCookie, c.Value, &s); err != nil || b.now().After(s.Created.Add(b.cfg.SessionTTL)) {
		return session{}, false
	}
	if b.now().Add(refreshAhead).Before(s.Expiry) {
		return s, true
	}
	if s.Refresh == "" || b.cfg.Issuer == "" {
		return s, b.now().Before(s.Expiry)
	}
	tok, err := b.refreshed(r.Context(), s.Refresh, s.Expiry)
	if err != nil {
		// The token in hand still serves until it expires; the next
		// request tries again.
		b.log.InfoContext(r.Context(), "session: the access token could not be refreshed", "err", err)
		return s, b.now().Before(s.Expiry)
	}
	s.Access, s.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		s.Refresh = tok.RefreshToken
	}
	if s.Expiry.IsZero() {
		s.Expiry = b.now().Add(defaultAccessTTL)
	}
	if err := b.setSession(w, s); err != nil {
		b.log.ErrorContext(r.Context(), "session: the renewed session cannot be kept", "err", err)
		return session{}, false
	}
	return s, true
}

// refreshed exchanges refresh for a new token once: parallel requests of a
// page share the exchange, and a request still carrying the old refresh
// token within a minute gets the same answer.
func (b *BFF) refreshed(ctx context.Context, refresh string, expiry time.Time) (*oauth2.Token, error) {
	b.recentMu.Lock()
	if r, ok := b.recent[refresh]; ok && b.now().Sub(r.at) < time.Minute {
		b.recentMu.Unlock()
		return r.tok, nil
	}
	b.recentMu.Unlock()
	v, err, _ := b.refresh.Do(refresh, func() (any, error) {
		p, err := b.discover(ctx)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), providerTimeout)
		defer cancel()
		tok, err := p.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh, Expiry: expiry}).Token()
		if err != nil {
			return nil, err
		}
		b.recentMu.Lock()
		defer b.recentMu.Unlock()
		for k, r := range b.recent {
			if b.now().Sub(r.at) >= time.Minute {
				delete(b.recent, k)
			}
		}
		b.recent[refresh] = refreshed{tok: tok, at: b.now()}
		return tok, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*oauth2.Token), nil
}

// Bearer lets API calls that carry a session cookie (and no Authorization
// of their own) through with the session's access token. A write must
// carry the session's CSRF token; the cookie itself never reaches a service.
func (b *BFF) Bearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.seal == nil || r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		s, ok := b.current(w, r)
		if !ok {
			next.ServeHTTP(w, r) // answered 401 by the auth middleware
			return
		}
		if !safeMethod(r.Method) && !csrfMatches(r.Header.Get(CSRFHeader), s.CSRF) {
			httpkit.EncodeError(r.Context(), apperr.New(apperr.KindForbidden, "csrf-failed",
				"a write from the web application must carry the session's "+CSRFHeader+" header"), w)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+s.Access)
		r.Header.Del("Cookie")
		next.ServeHTTP(&noStore{ResponseWriter: w}, r)
	})
}

// noStore keeps a shared cache from keeping an answer it could serve to
// another browser: the request named its user by a cookie, which caches do
// not key on, rather than by Authorization. An answer that says how it may
// be cached keeps its say.
type noStore struct {
	http.ResponseWriter
	wrote bool
}

func (n *noStore) WriteHeader(code int) {
	if !n.wrote && n.Header().Get("Cache-Control") == "" {
		n.Header().Set("Cache-Control", "private, no-store")
	}
	n.wrote = true
	n.ResponseWriter.WriteHeader(code)
}

func (n *noStore) Write(p []byte) (int, error) {
	if !n.wrote {
		n.WriteHeader(http.StatusOK)
	}
	return n.ResponseWriter.Write(p)
}

func (n *noStore) Unwrap() http.ResponseWriter { return n.ResponseWriter }

// SessionView is what the web application learns of its session.
type SessionView struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	TenantName string    `json:"tenant_name,omitempty"`
	User       string    `json:"user"`
	Roles      []string  `json:"roles"`
	Team       string    `json:"team,omitempty"`
	Locale     string    `json:"locale,omitempty"`
	CSRF       string    `json:"csrf"`
	Dev        bool      `json:"dev"`
	Expires    time.Time `json:"expires"`
	// Departments are the tenants below the user's that they may read,
	// naming one in the Rapport-Tenant header (admins only).
	Departments []Department `json:"departments"`
}

// Department is a tenant below the user's.
type Department struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

var errNoSession = apperr.New(apperr.KindUnauthorized, "no-session", "not signed in: start at /auth/login")

// sessionInfo tells the application who is signed in, or 401.
func (b *BFF) sessionInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s, ok := b.current(w, r)
	if !ok {
		httpkit.EncodeError(r.Context(), errNoSession, w)
		return
	}
	p, err := b.verify.Verify(r.Context(), s.Access)
	if err != nil {
		httpkit.EncodeError(r.Context(), errNoSession, w)
		return
	}
	v := SessionView{TenantID: p.TenantID, User: p.UserID, Roles: p.Roles, Team: p.Team, CSRF: s.CSRF, Dev: s.Dev,
		Expires: s.Created.Add(b.cfg.SessionTTL)}
	if t, ok := b.dir.Lookup(p.TenantID); ok {
		v.TenantName, v.Locale = displayName(t), t.Record.GetLocale()
	}
	v.Departments = []Department{}
	for _, d := range b.dir.Departments(p) {
		v.Departments = append(v.Departments, Department{ID: d.ID, Name: displayName(d)})
	}
	httpkit.WriteJSON(w, http.StatusOK, v)
}

// displayName is what people call a tenant: its display name, else its name.
func displayName(t tenancy.Tenant) string {
	if n := t.Record.GetDisplayName(); n != "" {
		return n
	}
	return t.Name
}

// logout forgets the session. It is a write: the CSRF token is required,
// so another site cannot sign people out (a cross-site form carries no
// session cookie, and then nothing is cleared). The refresh token is
// revoked at the provider, and the answer says where the browser goes next:
// the provider's logout, which ends its own session too, or the signed-out
// page.
func (b *BFF) logout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s, ok := b.current(w, r)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !csrfMatches(firstNonEmpty(r.Header.Get(CSRFHeader), r.PostFormValue("csrf")), s.CSRF) {
		httpkit.EncodeError(r.Context(), apperr.New(apperr.KindForbidden, "csrf-failed", "signing out needs the session's "+CSRFHeader+" header"), w)
		return
	}
	b.clear(w, b.sessionCookie)
	next := "/auth/signed-out"
	if b.cfg.Issuer != "" && !s.Dev {
		if p, err := b.discover(r.Context()); err == nil {
			b.revoke(r.Context(), p, s.Refresh)
			if p.endSession != "" {
				u, err := url.Parse(p.endSession)
				if err == nil {
					q := u.Query()
					q.Set("client_id", b.cfg.ClientID)
					q.Set("post_logout_redirect_uri", b.cfg.PublicURL.JoinPath("/auth/signed-out").String())
					u.RawQuery = q.Encode()
					next = u.String()
				}
			}
		}
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]string{"redirect": next})
}

// revoke asks the provider to forget a refresh token (RFC 7009), so a copy
// of the cookie cannot renew the session after sign-out; a provider without
// revocation, or one that fails, is logged and signing out goes on.
func (b *BFF) revoke(ctx context.Context, p *oidcProvider, refresh string) {
	if refresh == "" || p.revocation == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), providerTimeout)
	defer cancel()
	form := url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}, "client_id": {b.cfg.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(b.cfg.ClientID), url.QueryEscape(b.cfg.ClientSecret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.log.WarnContext(ctx, "sign-out: the refresh token could not be revoked", "err", err)
		return
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.log.WarnContext(ctx, "sign-out: the provider did not revoke the refresh token", "status", res.StatusCode)
	}
}

func (b *BFF) signedOut(w http.ResponseWriter, r *http.Request) {
	b.page(w, r, http.StatusOK, pageSignedOut, "")
}

func (b *BFF) setSession(w http.ResponseWriter, s session) error {
	return b.set(w, b.sessionCookie, s, s.Created.Add(b.cfg.SessionTTL))
}

func (b *BFF) setSignin(w http.ResponseWriter, s signin) error {
	// Lax: the provider's redirect back is a top-level GET from another site.
	return b.set(w, b.signinCookie, s, s.Expires)
}

// maxCookie is what browsers keep of one cookie.
const maxCookie = 4000

// set seals v into the cookie name until then; it writes nothing else, so
// that the caller answers once.
func (b *BFF) set(w http.ResponseWriter, name string, v any, until time.Time) error {
	sealed, err := b.seal.seal(name, v)
	if err != nil {
		return err
	}
	if len(name)+len(sealed) > maxCookie {
		return fmt.Errorf("the sealed %s cookie has %d bytes, more than browsers keep: the identity provider's tokens are too large", name, len(sealed))
	}
	// An answer that sets a session is nobody else's.
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, &http.Cookie{Name: name, Value: sealed, Path: "/", Expires: until, MaxAge: int(until.Sub(b.now()).Seconds()),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// failed answers a sign-in that cannot keep its cookie.
func (b *BFF) failed(w http.ResponseWriter, r *http.Request, err error) {
	b.log.ErrorContext(r.Context(), "session cookie", "err", err)
	b.page(w, r, http.StatusInternalServerError, pageError, "The session could not be kept: the identity provider's tokens are too large for a cookie.")
}

func (b *BFF) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode})
}

// takeSignin reads and clears the sign-in cookie: each one serves once.
func (b *BFF) takeSignin(w http.ResponseWriter, r *http.Request) (signin, bool) {
	var s signin
	if b.seal == nil {
		return s, false
	}
	c, err := r.Cookie(b.signinCookie)
	if err != nil {
		return s, false
	}
	b.clear(w, b.signinCookie)
	if err := b.seal.open(b.signinCookie, c.Value, &s); err != nil || b.now().After(s.Expires) {
		return signin{}, false
	}
	return s, true
}

// returnPath keeps a return address on this site: a path, never another
// origin (//evil.example, /\evil.example, or one that becomes so once
// cleaned, such as /./\evil.example). What it returns is what the redirect
// sends: already clean.
func returnPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	clean := path.Clean(u.EscapedPath())
	if strings.HasPrefix(clean, "//") || clean == "/auth" || strings.HasPrefix(clean, "/auth/") {
		return "/"
	}
	if u.RawQuery != "" {
		clean += "?" + u.RawQuery
	}
	return clean
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func csrfMatches(have, want string) bool {
	return have != "" && subtle.ConstantTimeCompare([]byte(have), []byte(want)) == 1
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// errorCode is an OAuth error code as sent, if it is one (RFC 6749 §4.1.2.1
// codes are a few lower-case words), else a fixed word.
func errorCode(code string) string {
	if len(code) == 0 || len(code) > 64 || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return "error"
	}
	return code
}

func errorMessage(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the check timed out"
	}
	return "the token was refused"
}
