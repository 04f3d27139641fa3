package bff

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSealOpensOnlyWhatItSealedForThatCookie(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	old, _ := newSealer([][]byte{k1})
	rotated, _ := newSealer([][]byte{k2, k1})
	sealed, err := old.seal("rapport-session", session{Access: "a.b.c", CSRF: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "a.b.c") {
		t.Fatal("the sealed value shows the token")
	}
	var s session
	if err := rotated.open("rapport-session", sealed, &s); err != nil || s.Access != "a.b.c" {
		t.Fatalf("a rotated gateway opens the old key's cookie: %v %+v", err, s)
	}
	if err := rotated.open("rapport-signin", sealed, &s); err == nil {
		t.Fatal("a session cookie opened as a sign-in cookie")
	}
	b := []byte(sealed)
	b[len(b)/2] ^= 1
	if err := rotated.open("rapport-session", string(b), &s); err == nil {
		t.Fatal("a changed cookie opened")
	}
	fresh, _ := newSealer([][]byte{k2})
	if err := fresh.open("rapport-session", sealed, &s); err == nil {
		t.Fatal("a cookie sealed with a dropped key opened")
	}
	if _, err := newSealer([][]byte{k1[:16]}); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

func TestReturnPathStaysOnThisSite(t *testing.T) {
	for _, tc := range []struct{ have, want string }{
		{"/board?pipeline=1", "/board?pipeline=1"},
		{"/contacts/42", "/contacts/42"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"board", "/"},
		{"/auth/logout", "/"},
		{"/./\\evil.example/phish", "/"},
		{"/x/../\\evil.example", "/"},
		{"/x/..//evil.example", "/evil.example"},
		{"/%5Cevil.example", "/%5Cevil.example"},
		{"/contacts/../auth/dev", "/"},
		{"/day\r\nSet-Cookie: x=1", "/"},
		{"/board/./7?owner=me", "/board/7?owner=me"},
	} {
		if have := returnPath(tc.have); have != tc.want {
			t.Errorf("returnPath(%q) = %q, want %q", tc.have, have, tc.want)
		}
	}
}

func TestAppServesRoutesAssetsAndNothingElse(t *testing.T) {
	files := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Rapport</title>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	app := App(files, notFound, true)
	get := func(p string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
		return w
	}
	for _, p := range []string{"/", "/day", "/contacts/0192-abc", "/board/7"} {
		w := get(p)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<title>Rapport") || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d %q cache %q", p, w.Code, w.Body, w.Header().Get("Cache-Control"))
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s CSP = %q", p, csp)
		}
		if w.Header().Get("Strict-Transport-Security") == "" {
			t.Errorf("GET %s has no HSTS over https", p)
		}
	}
	if w := get("/assets/app-1a2b.js"); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("asset = %d cache %q", w.Code, w.Header().Get("Cache-Control"))
	}
	if w := get("/favicon.svg"); w.Code != http.StatusOK {
		t.Errorf("favicon = %d", w.Code)
	}
	for _, p := range []string{"/assets/gone.js", "/metrics", "/v2/contacts", "/nothing.txt"} {
		if w := get(p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, w.Code)
		}
	}

	unbuilt := App(fstest.MapFS{".gitkeep": {}}, notFound, false)
	w := httptest.NewRecorder()
	unbuilt.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/day", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make web") {
		t.Errorf("unbuilt app = %d %s", w.Code, w.Body)
	}
}
