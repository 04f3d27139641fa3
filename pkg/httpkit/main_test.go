package httpkit_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// problem is the client's view of a problem+json answer.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	Extra map[string]any `json:"-"`
}

func readProblem(t *testing.T, w *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type: want application/problem+json, have %q (%s)", ct, w.Body)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body, err)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p.Extra); err != nil {
		t.Fatal(err)
	}
	if p.Status != w.Code {
		t.Fatalf("problem status %d differs from the response's %d", p.Status, w.Code)
	}
	return p
}

func slugOf(p problem) string {
	const base = "https://rapport.dev/problems/"
	if len(p.Type) < len(base) || p.Type[:len(base)] != base {
		return p.Type
	}
	return p.Type[len(base):]
}
