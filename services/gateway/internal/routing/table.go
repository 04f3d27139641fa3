// Package routing sends each public /v1 path to the service that owns it.
package routing

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"

	"github.com/rapportcrm/rapport/pkg/catalog"
)

// Table maps the first path segment after /v1 (a resource collection) to
// the name of the upstream service that serves it.
type Table map[string]string

// Default is the public API's routing: every collection of every service
// of the catalogue (design §8), which the gateway then requires the
// <NAME>_URL of (see app.ConfigFromEnv).
var Default = func() Table {
	t := Table{}
	for _, s := range catalog.Services {
		for _, c := range s.Collections {
			t[c] = s.Name
		}
	}
	return t
}()

// Collections lists the table's collections in order.
func (t Table) Collections() []string {
	cs := make([]string, 0, len(t))
	for c := range t {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

// Upstreams lists, in order and once each, the upstreams the table names.
func (t Table) Upstreams() []string {
	seen := map[string]bool{}
	var names []string
	for _, name := range t {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Register routes /v1/<collection> and everything under it to the proxy of
// its upstream, and every other /v1 path to a 404 problem. It fails when the
// table names an upstream without a base URL.
func (t Table) Register(mux *http.ServeMux, upstreams map[string]*url.URL, transport http.RoundTripper, log *slog.Logger) error {
	proxies := map[string]http.Handler{}
	for _, c := range t.Collections() {
		name := t[c]
		p, ok := proxies[name]
		if !ok {
			base, ok := upstreams[name]
			if !ok {
				return fmt.Errorf("routing: /v1/%s goes to upstream %q, which has no URL", c, name)
			}
			p = NewProxy(name, base, transport, log)
			proxies[name] = p
		}
		mux.Handle("/v1/"+c, p)
		mux.Handle("/v1/"+c+"/", p)
	}
	mux.Handle("/v1/", http.HandlerFunc(notFound))
	return nil
}
