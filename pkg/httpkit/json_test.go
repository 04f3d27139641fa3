package httpkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

type address struct {
	Zip int `json:"zip"`
}

type contactBody struct {
	Name    string   `json:"name"`
	Age     int      `json:"age"`
	Emails  []string `json:"emails"`
	Address *address `json:"address"`
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name       string
		body       string
		limit      int64
		wantStatus int // 0: decodes
		wantSlug   string
		wantField  string
	}{
		{name: "valid", body: `{"name":"Ada","age":36,"emails":["ada@example.com"],"address":{"zip":1}}`},
		{name: "trailing whitespace", body: "{\"name\":\"Ada\"}\n  "},
		{name: "unknown field", body: `{"name":"Ada","nickname":"A"}`, wantStatus: 400, wantSlug: "unknown-field", wantField: "nickname"},
		{name: "malformed", body: `{"name":"Ada",}`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "truncated", body: `{"name":"Ada"`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "empty", body: ``, wantStatus: 400, wantSlug: "empty-body"},
		{name: "trailing data", body: `{"name":"Ada"}{"name":"Bob"}`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, limit: 64, wantStatus: 413, wantSlug: "too-large"},
		{name: "wrong type", body: `{"age":"thirty"}`, wantStatus: 422, wantSlug: "validation", wantField: "age"},
		{name: "wrong nested type", body: `{"address":{"zip":"x"}}`, wantStatus: 422, wantSlug: "validation", wantField: "address/zip"},
		{name: "not an object", body: `[1,2]`, wantStatus: 400, wantSlug: "malformed-json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/contacts", strings.NewReader(tc.body))
			w := httptest.NewRecorder()
			if tc.limit > 0 {
				r.Body = http.MaxBytesReader(w, r.Body, tc.limit)
			}
			var have contactBody
			err := httpkit.DecodeJSON(r, &have)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decoded %+v", have)
			}
			httpkit.EncodeError(context.Background(), err, w)
			if w.Code != tc.wantStatus {
				t.Fatalf("status: want %d, have %d (%s)", tc.wantStatus, w.Code, w.Body)
			}
			p := readProblem(t, w)
			if slugOf(p) != tc.wantSlug {
				t.Errorf("slug: want %q, have %q", tc.wantSlug, slugOf(p))
			}
			if tc.wantField != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.wantField) {
				t.Errorf("field: want %q, have %+v", tc.wantField, p.Errors)
			}
		})
	}
}

type created struct {
	ID string `json:"id"`
}

func (created) StatusCode() int                  { return http.StatusCreated }
func (c created) Headers() http.Header           { return http.Header{"Location": {"/v1/things/" + c.ID}} }
func (created) Failed() error                    { return nil }
func (failed) Failed() error                     { return apperr.NotFound("thing") }
func (failed) StatusCode() int                   { return http.StatusOK }
func (unencodable) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

type failed struct{}
type unencodable struct{}

func TestEncodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name         string
		response     any
		wantStatus   int
		wantType     string
		wantLocation string
		wantBody     string
	}{
		{"plain", map[string]int{"n": 1}, 200, "application/json", "", `{"n":1}`},
		{"status coder and headerer", created{ID: "t-1"}, 201, "application/json", "/v1/things/t-1", `{"id":"t-1"}`},
		{"failer", failed{}, 404, "application/problem+json", "", ""},
		{"unencodable", unencodable{}, 500, "application/problem+json", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := httpkit.EncodeJSON(context.Background(), w, tc.response); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.wantStatus || w.Header().Get("Content-Type") != tc.wantType || w.Header().Get("Location") != tc.wantLocation {
				t.Fatalf("want %d %s %q, have %d %s %q", tc.wantStatus, tc.wantType, tc.wantLocation,
					w.Code, w.Header().Get("Content-Type"), w.Header().Get("Location"))
			}
			if tc.wantBody != "" && strings.TrimSpace(w.Body.String()) != tc.wantBody {
				t.Fatalf("body: want %s, have %s", tc.wantBody, w.Body)
			}
		})
	}
}

func TestDecodeJSONRefusesNUL(t *testing.T) {
	type body struct {
		Name  string                   `json:"name"`
		Tags  []string                 `json:"tags"`
		Extra map[string]any           `json:"extra"`
		Day   httpkit.Nullable[string] `json:"day"`
	}
	for raw, field := range map[string]string{
		`{"name":"a\u0000b"}`:        "name",
		`{"tags":["ok","x\u0000"]}`:  "tags/1",
		`{"extra":{"k":["\u0000"]}}`: "extra/k/0",
		`{"day":"2020\u0000"}`:       "day",
	} {
		var b body
		err := httpkit.DecodeJSON(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(raw)), &b)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

func TestValidQuery(t *testing.T) {
	h := httpkit.ValidQuery(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for query, status := range map[string]int{"q=%D0%90%D0%BD%D0%BD%D0%B0": 204, "q=%FF": 400, "tag=%00": 400, "%00=x": 400} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/contacts?"+query, nil))
		if rec.Code != status {
			t.Errorf("%s: %d, want %d", query, rec.Code, status)
		}
	}
}
