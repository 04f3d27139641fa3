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
	now      func() time.Time
}

type oidcProvider struct {
	oauth    *oauth2.Config
	idTokens *oidc.IDTokenVerifier
}

// New builds the sign-in side of the gateway. verify is the gateway's own
// token verifier: a token the provider issues must pass it, as it must pass
// every service's.
func New(cfg Config, a auth.Config, verify auth.Verifier, dir *tenancy.Directory, log *slog.Logger) (*BFF, error) {
	b := &BFF{cfg: cfg, verify: verify, dir: dir, log: log, now: time.Now, maxDevTTL: a.MaxTokenLifetime}
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
	p, err := oidc.NewProvider(ctx, b.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	b.provider = &oidcProvider{
		oauth: &oauth2.Config{
			ClientID: b.cfg.ClientID, ClientSecret: b.cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: b.cfg.PublicURL.JoinPath("/auth/callback").String(), Scopes: b.cfg.Scopes,
		},
		idTokens: p.Verifier(&oidc.Config{ClientID: b.cfg.ClientID}),
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
		if !b.setSignin(w, r, s) {
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
	case q.Get("error") != "":
		b.page(w, r, http.StatusUnauthorized, pageError, "The identity provider refused the sign-in: "+firstNonEmpty(q.Get("error_description"), q.Get("error")))
		return
	case !ok || subtle.ConstantTimeCompare([]byte(s.State), []byte(q.Get("state"))) != 1:
		b.page(w, r, http.StatusBadRequest, pageError, "This sign-in has expired or was started in another browser. Sign in again.")
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
	if b.setSession(w, r, session{Access: tok.AccessToken, Refresh: tok.RefreshToken, Expiry: exp, CSRF: random(24), Created: b.now()}) {
		http.Redirect(w, r, s.Return, http.StatusFound)
	}
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
	// Parallel requests of one page share one refresh: providers that rotate
	// refresh tokens would refuse the second.
	v, err, _ := b.refresh.Do(s.Refresh, func() (any, error) {
		p, err := b.discover(r.Context())
		if err != nil {
			return nil, err
		}
		return p.oauth.TokenSource(context.WithoutCancel(r.Context()), &oauth2.Token{RefreshToken: s.Refresh, Expiry: s.Expiry}).Token()
	})
	if err != nil {
		b.log.InfoContext(r.Context(), "session: the access token could not be refreshed", "err", err)
		return session{}, false
	}
	tok := v.(*oauth2.Token)
	s.Access, s.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		s.Refresh = tok.RefreshToken
	}
	if s.Expiry.IsZero() {
		s.Expiry = b.now().Add(defaultAccessTTL)
	}
	return s, b.setSession(w, r, s)
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
		next.ServeHTTP(w, r)
	})
}

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
// so another site cannot sign people out.
func (b *BFF) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := b.current(w, r)
	if ok && !csrfMatches(firstNonEmpty(r.Header.Get(CSRFHeader), r.PostFormValue("csrf")), s.CSRF) {
		httpkit.EncodeError(r.Context(), apperr.New(apperr.KindForbidden, "csrf-failed", "signing out needs the session's "+CSRFHeader+" header"), w)
		return
	}
	b.clear(w, b.sessionCookie)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (b *BFF) signedOut(w http.ResponseWriter, r *http.Request) {
	b.page(w, r, http.StatusOK, pageSignedOut, "")
}

func (b *BFF) setSession(w http.ResponseWriter, r *http.Request, s session) bool {
	return b.set(w, r, b.sessionCookie, s, s.Created.Add(b.cfg.SessionTTL), http.SameSiteLaxMode)
}

func (b *BFF) setSignin(w http.ResponseWriter, r *http.Request, s signin) bool {
	// Lax: the provider's redirect back is a top-level GET from another site.
	return b.set(w, r, b.signinCookie, s, s.Expires, http.SameSiteLaxMode)
}

// maxCookie is what browsers keep of one cookie.
const maxCookie = 4000

func (b *BFF) set(w http.ResponseWriter, r *http.Request, name string, v any, until time.Time, same http.SameSite) bool {
	sealed, err := b.seal.seal(name, v)
	if err == nil && len(name)+len(sealed) > maxCookie {
		err = fmt.Errorf("the sealed %s cookie has %d bytes, more than browsers keep", name, len(sealed))
	}
	if err != nil {
		b.log.ErrorContext(r.Context(), "session cookie", "err", err)
		b.page(w, r, http.StatusInternalServerError, pageError, "The session could not be kept: the identity provider's tokens are too large for a cookie.")
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: sealed, Path: "/", Expires: until, MaxAge: int(until.Sub(b.now()).Seconds()),
		HttpOnly: true, Secure: b.secure, SameSite: same})
	return true
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
// origin (//evil.example or /\evil.example).
func returnPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		u.Scheme != "" || u.Host != "" || strings.HasPrefix(p, "/auth/") {
		return "/"
	}
	return p
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

func errorMessage(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the check timed out"
	}
	return "the token was refused"
}
