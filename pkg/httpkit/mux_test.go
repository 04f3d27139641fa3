package httpkit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rapportcrm/rapport/pkg/httpkit"
)

func TestProblemMuxAnswersUnmatchedRoutesWithProblems(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("DELETE /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := httpkit.ProblemMux(mux)
	for _, tc := range []struct {
		method, path string
		status       int
		slug, allow  string
	}{
		{http.MethodGet, "/v1/things/1", http.StatusNoContent, "", ""},
		{http.MethodGet, "/v1/nothing", http.StatusNotFound, "not-found", ""},
		{http.MethodPut, "/v1/things/1", http.StatusMethodNotAllowed, "method-not-allowed", "DELETE, GET, HEAD"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			continue
		}
		if tc.slug == "" {
			continue
		}
		var p struct{ Type string }
		if ct := rec.Header().Get("Content-Type"); ct != httpkit.ContentTypeProblem {
			t.Errorf("%s %s: content type %q", tc.method, tc.path, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Type != httpkit.ProblemType(tc.slug) {
			t.Errorf("%s %s: body %s (%v)", tc.method, tc.path, rec.Body, err)
		}
		if rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, rec.Header().Get("Allow"), tc.allow)
		}
	}
}
