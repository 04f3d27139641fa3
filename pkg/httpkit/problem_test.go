package httpkit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

func TestEncodeErrorMapsKindsToStatus(t *testing.T) {
	invalid := func() error {
		var v apperr.Invalid
		v.Add("emails/1", "is not an e-mail address")
		v.Add("last_name", "is required")
		return v.Err()
	}()
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus int
		wantSlug   string
		wantHeader map[string]string
		wantFields int
	}{
		{"invalid", invalid, 422, "validation", nil, 2},
		{"bad request", apperr.New(apperr.KindBadRequest, "malformed-json", "x"), 400, "malformed-json", nil, 0},
		{"unauthorized", apperr.New(apperr.KindUnauthorized, "unauthenticated", "x"), 401, "unauthenticated",
			map[string]string{"WWW-Authenticate": `Bearer realm="rapport"`}, 0},
		{"forbidden", apperr.New(apperr.KindForbidden, "", "x"), 403, "forbidden", nil, 0},
		{"not found", apperr.NotFound("contact"), 404, "not-found", nil, 0},
		{"wrapped not found", fmt.Errorf("load: %w", apperr.NotFound("deal")), 404, "not-found", nil, 0},
		{"conflict", apperr.New(apperr.KindConflict, "duplicate", "x"), 409, "duplicate", nil, 0},
		{"precondition failed", apperr.New(apperr.KindPreconditionFailed, "version-mismatch", "x"), 412, "version-mismatch", nil, 0},
		{"precondition required", apperr.New(apperr.KindPreconditionRequired, "if-match-required", "x"), 428, "if-match-required", nil, 0},
		{"too large", apperr.New(apperr.KindTooLarge, "", "x"), 413, "too-large", nil, 0},
		{"max bytes error", &http.MaxBytesError{Limit: 10}, 413, "too-large", nil, 0},
		{"rate limited", &apperr.Error{Kind: apperr.KindRateLimited, Slug: "rate-limited", Message: "x",
			Extensions: map[string]any{"retry_after": 7}}, 429, "rate-limited", map[string]string{"Retry-After": "7"}, 0},
		{"rate limited, fractional", &apperr.Error{Kind: apperr.KindRateLimited, Message: "x",
			Extensions: map[string]any{"retry_after": 2500 * time.Millisecond}}, 429, "rate-limited", map[string]string{"Retry-After": "3"}, 0},
		{"unavailable", apperr.New(apperr.KindUnavailable, "", "x"), 503, "unavailable", nil, 0},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "timeout", nil, 0},
		{"internal kind", apperr.New(apperr.KindInternal, "internal", "secret detail"), 500, "internal", nil, 0},
		{"foreign", errors.New("pq: password authentication failed for secret"), 500, "internal", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpkit.EncodeError(context.Background(), tc.err, w)
			if w.Code != tc.wantStatus {
				t.Fatalf("status: want %d, have %d", tc.wantStatus, w.Code)
			}
			p := readProblem(t, w)
			if have := slugOf(p); have != tc.wantSlug {
				t.Errorf("slug: want %q, have %q", tc.wantSlug, have)
			}
			if p.Title != http.StatusText(tc.wantStatus) || p.Detail == "" {
				t.Errorf("title/detail: %+v", p)
			}
			for k, want := range tc.wantHeader {
				if have := w.Header().Get(k); have != want {
					t.Errorf("%s: want %q, have %q", k, want, have)
				}
			}
			if len(p.Errors) != tc.wantFields {
				t.Errorf("field errors: want %d, have %+v", tc.wantFields, p.Errors)
			}
			if tc.wantStatus == 500 && strings.Contains(w.Body.String(), "secret") {
				t.Errorf("internal detail leaked: %s", w.Body)
			}
		})
	}
}

func TestEncodeErrorShape(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(telemetry.NewLogger(&logs, "test"))
	defer slog.SetDefault(prev)
	ctx := telemetry.WithRequestID(context.Background(), "req-7")

	w := httptest.NewRecorder()
	httpkit.EncodeError(ctx, &apperr.Error{Kind: apperr.KindInvalid, Slug: "validation", Message: "the request has invalid values",
		Fields:     []apperr.FieldError{{Field: "emails/0", Message: "is not an e-mail address"}},
		Extensions: map[string]any{"duplicates": []string{"c-1"}, "status": 999}}, w)
	p := readProblem(t, w)
	if p.Type != "https://rapport.dev/problems/validation" || p.Status != 422 || p.RequestID != "req-7" {
		t.Fatalf("problem: %+v", p)
	}
	if len(p.Errors) != 1 || p.Errors[0].Field != "emails/0" || p.Errors[0].Message != "is not an e-mail address" {
		t.Fatalf("errors: %+v", p.Errors)
	}
	if d, _ := p.Extra["duplicates"].([]any); len(d) != 1 || d[0] != "c-1" {
		t.Fatalf("extension not flattened into the problem: %s", w.Body)
	}

	w = httptest.NewRecorder()
	httpkit.EncodeError(ctx, errors.New("disk on fire"), w)
	if p := readProblem(t, w); p.Detail == "" || strings.Contains(p.Detail, "disk") {
		t.Fatalf("internal detail: %+v", p)
	}
	if !strings.Contains(logs.String(), "disk on fire") || !strings.Contains(logs.String(), `"request_id":"req-7"`) {
		t.Fatalf("internal error not logged with its context: %s", logs.String())
	}
}

func TestWriteProblem(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
	r = r.WithContext(telemetry.WithRequestID(r.Context(), "req-9"))
	w := httptest.NewRecorder()
	httpkit.WriteProblem(w, r, httpkit.Problem{Type: httpkit.ProblemType("upstream-unavailable"), Status: http.StatusBadGateway,
		Detail: "the contacts service is unavailable", Extensions: map[string]any{"upstream": "contacts"}})
	p := readProblem(t, w)
	want := problem{Type: "https://rapport.dev/problems/upstream-unavailable", Title: "Bad Gateway", Status: 502,
		Detail: "the contacts service is unavailable", RequestID: "req-9"}
	if p.Type != want.Type || p.Title != want.Title || p.Status != want.Status || p.Detail != want.Detail ||
		p.RequestID != want.RequestID || p.Extra["upstream"] != "contacts" {
		t.Fatalf("want %+v, have %+v (%s)", want, p, w.Body)
	}
}

// A problem is JSON, never HTML: what a detail quotes reads as it was sent.
func TestProblemsAndResponsesDoNotEscapeHTML(t *testing.T) {
	w := httptest.NewRecorder()
	var v apperr.Invalid
	v.Add("name", `must not be "<b>" & co`)
	httpkit.EncodeError(context.Background(), &apperr.Error{Kind: apperr.KindInvalid, Slug: "validation",
		Message: "a <script> tag & more", Fields: []apperr.FieldError{{Field: "name", Message: "<b>"}},
		Extensions: map[string]any{"hint": "<i>"}}, w)
	for _, want := range []string{`"detail":"a <script> tag & more"`, `"message":"<b>"`, `"hint":"<i>"`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("want %s in %s", want, w.Body)
		}
	}
	w = httptest.NewRecorder()
	if err := httpkit.EncodeJSON(context.Background(), w, map[string]string{"name": "<Anna & Co>"}); err != nil {
		t.Fatal(err)
	}
	if have := strings.TrimSpace(w.Body.String()); have != `{"name":"<Anna & Co>"}` {
		t.Errorf("EncodeJSON wrote %s", have)
	}
	w = httptest.NewRecorder()
	if err := httpkit.WriteJSON(w, http.StatusOK, map[string]string{"name": "<Anna & Co>"}); err != nil {
		t.Fatal(err)
	}
	if have := strings.TrimSpace(w.Body.String()); have != `{"name":"<Anna & Co>"}` {
		t.Errorf("WriteJSON wrote %s", have)
	}
}
