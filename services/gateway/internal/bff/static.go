package bff

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// Routes are the web application's top-level paths: index.html answers
// them and everything below them, so that /contacts/42 opened from a
// bookmark is the application's page. Other paths stay 404.
var Routes = []string{"day", "contacts", "companies", "duplicates", "board", "deals", "import", "admin"}

func isRoute(p string) bool {
	if p == "/" || p == "/index.html" {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return slices.Contains(Routes, first)
}

// App serves the built web application from files: its hashed assets for a
// year, and index.html (never cached) for its routes; https adds HSTS.
// Before the application is built it says how to build it.
func App(files fs.FS, notFound http.Handler, https bool) http.Handler {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		index = nil
	}
	static := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean(r.URL.Path)
		SecurityHeaders(w.Header(), https)
		if strings.HasPrefix(p, "/assets/") {
			if _, err := fs.Stat(files, strings.TrimPrefix(p, "/")); err != nil {
				notFound.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			static.ServeHTTP(w, r)
			return
		}
		if !isRoute(p) {
			if _, err := fs.Stat(files, strings.TrimPrefix(p, "/")); err == nil && path.Ext(p) != "" {
				w.Header().Set("Cache-Control", "public, max-age=3600")
				static.ServeHTTP(w, r)
				return
			}
			notFound.ServeHTTP(w, r)
			return
		}
		if index == nil {
			httpkit.EncodeError(r.Context(), apperr.New(apperr.KindUnavailable, "web-not-built",
				"the web application is not built into this gateway: run make web (npm) and build the gateway again"), w)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
	})
}
