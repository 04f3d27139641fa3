package httpkit

import (
	"net/http"
)

// ProblemMux serves mux, answering the requests no pattern matches with
// problems instead of the standard library's text: 404 not-found for an
// unknown path, 405 method-not-allowed (with the Allow header the mux
// computed) for a known path with another method. It records the pattern
// mux matched (RecordRoute): the innermost mux records first, so the access
// log, the span and the metrics name the most specific route whatever
// copies of the request the layers between made.
func ProblemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			RecordRoute(r)
			return
		}
		// The mux's own fallback computes 404 versus 405 and the Allow
		// header; keep those and replace its text body.
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusMethodNotAllowed:
			if allow := probe.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			WriteProblem(w, r, Problem{Type: ProblemType("method-not-allowed"), Status: http.StatusMethodNotAllowed,
				Detail: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + probe.header.Get("Allow")})
		case http.StatusNotFound:
			WriteProblem(w, r, Problem{Type: ProblemType("not-found"), Status: http.StatusNotFound,
				Detail: "no resource at " + r.URL.Path})
		default:
			// A redirect (a path needing cleaning or a trailing slash): let
			// the mux answer it as it would.
			mux.ServeHTTP(w, r)
		}
	})
}

// statusProbe records the status and headers of a fallback handler and
// drops its body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }

func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

func (p *statusProbe) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}
