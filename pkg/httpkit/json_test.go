package httpkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

type address struct {
	Zip int `json:"zip"`
}

type contactBody struct {
	Name    string         `json:"name"`
	Age     int            `json:"age"`
	Emails  []string       `json:"emails"`
	Address *address       `json:"address"`
	Custom  map[string]any `json:"custom"`
}

// jsonRequest is a request with a JSON body, as clients send it.
func jsonRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// manyKeys is an object of n distinct keys, then the first one again when dup.
func manyKeys(n int, dup bool) string {
	var b strings.Builder
	b.WriteString(`{"custom":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	if dup {
		b.WriteString(`,"k0":0`)
	}
	b.WriteString(`}}`)
	return b.String()
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name        string
		body        string
		contentType string // "" sends application/json; "-" sends none
		method      string // POST unless given
		limit       int64
		wantStatus  int // 0: decodes
		wantSlug    string
		wantField   string
		wantDetail  string // a part of the detail
		wantAccept  string // the Accept-Post or Accept-Patch header of a 415
	}{
		{name: "valid", body: `{"name":"Ada","age":36,"emails":["ada@example.com"],"address":{"zip":1}}`},
		{name: "trailing whitespace", body: "{\"name\":\"Ada\"}\n  "},
		{name: "unknown field", body: `{"name":"Ada","nickname":"A"}`, wantStatus: 400, wantSlug: "unknown-field", wantField: "nickname"},
		{name: "malformed", body: `{"name":"Ada",}`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "truncated", body: `{"name":"Ada"`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "empty", body: ``, wantStatus: 400, wantSlug: "empty-body"},
		{name: "trailing data", body: `{"name":"Ada"}{"name":"Bob"}`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "trailing close", body: `{"name":"Ada"}]`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, limit: 64, wantStatus: 413, wantSlug: "too-large"},
		{name: "wrong type", body: `{"age":"thirty"}`, wantStatus: 422, wantSlug: "validation", wantField: "age"},
		{name: "wrong nested type", body: `{"address":{"zip":"x"}}`, wantStatus: 422, wantSlug: "validation", wantField: "address/zip"},
		{name: "not an object", body: `[1,2]`, wantStatus: 400, wantSlug: "malformed-json"},

		// Invalid UTF-8 anywhere is refused, never replaced by U+FFFD.
		{name: "invalid UTF-8 in a string", body: "{\"name\":\"\xff\xfe\"}", wantStatus: 400, wantSlug: "invalid-utf8", wantDetail: "byte offset 9"},
		{name: "truncated UTF-8 sequence", body: "{\"name\":\"Ann\xd0\"}", wantStatus: 400, wantSlug: "invalid-utf8", wantDetail: "byte offset 12"},
		{name: "overlong encoding", body: "{\"name\":\"\xc0\xaf\"}", wantStatus: 400, wantSlug: "invalid-utf8"},
		{name: "encoded surrogate", body: "{\"name\":\"\xed\xa0\x80\"}", wantStatus: 400, wantSlug: "invalid-utf8"},
		{name: "invalid UTF-8 in a key", body: "{\"custom\":{\"\xff\":1}}", wantStatus: 400, wantSlug: "invalid-utf8"},
		{name: "invalid UTF-8 outside strings", body: "{\"age\":1}\xff", wantStatus: 400, wantSlug: "invalid-utf8"},
		{name: "lone surrogate escape", body: `{"name":"\ud800"}`, wantStatus: 400, wantSlug: "invalid-utf8", wantDetail: `\ud800`},
		{name: "reversed surrogate escapes", body: `{"name":"\udc00\ud800"}`, wantStatus: 400, wantSlug: "invalid-utf8"},
		{name: "high surrogate then a letter", body: `{"name":"\ud83d\u0041"}`, wantStatus: 400, wantSlug: "invalid-utf8"},
		{name: "surrogate pair", body: `{"name":"\ud83d\ude00 Анна"}`},
		{name: "escaped backslash before u", body: `{"name":"\\ud800"}`},

		// A key given twice would keep only its last value.
		{name: "duplicate key", body: `{"name":"Ada","name":"Bob"}`, wantStatus: 400, wantSlug: "duplicate-key", wantField: "name"},
		{name: "duplicate nested key", body: `{"address":{"zip":1,"zip":2}}`, wantStatus: 400, wantSlug: "duplicate-key", wantField: "address/zip"},
		{name: "duplicate key spelt with an escape", body: `{"name":"Ada","n\u0061me":"Bob"}`, wantStatus: 400, wantSlug: "duplicate-key", wantField: "name"},
		{name: "duplicate key in an array's object", body: `{"custom":{"l":[{"a":1},{"a":1,"b":2,"a":3}]}}`, wantStatus: 400, wantSlug: "duplicate-key", wantField: "custom/l/1/a"},
		{name: "duplicate key in a large object", body: manyKeys(100, true), wantStatus: 400, wantSlug: "duplicate-key", wantField: "custom/k0"},
		{name: "large object", body: manyKeys(100, false)},
		{name: "duplicate key in another case", body: `{"name":"Ada","NAME":"Bob"}`, wantStatus: 400, wantSlug: "duplicate-key", wantField: "NAME"},
		{name: "duplicate key under Unicode folding", body: `{"custom":{"k":1,"\u212a":2}}`, wantStatus: 400, wantSlug: "duplicate-key", wantField: "custom/\u212a"},
		{name: "duplicate key in another case in a large object", body: strings.Replace(manyKeys(100, true), `"k0":0}}`, `"K0":0}}`, 1), wantStatus: 400, wantSlug: "duplicate-key", wantField: "custom/K0"},
		{name: "same key in sibling objects", body: `{"custom":{"a":{"x":1},"b":{"x":1},"l":[{"x":1},{"x":2}]},"address":{"zip":1}}`},
		{name: "a value equal to a key", body: `{"name":"name","custom":{"name":"name"}}`},

		// Only JSON in UTF-8 is read as JSON.
		{name: "text/plain", body: `{"name":"Ada"}`, contentType: "text/plain", wantStatus: 415, wantSlug: "unsupported-media-type", wantDetail: "text/plain", wantAccept: "Accept-Post"},
		{name: "form", body: `{"name":"Ada"}`, contentType: "application/x-www-form-urlencoded", method: http.MethodPatch, wantStatus: 415, wantSlug: "unsupported-media-type", wantAccept: "Accept-Patch"},
		{name: "no content type", body: `{"name":"Ada"}`, contentType: "-", wantStatus: 415, wantSlug: "unsupported-media-type", wantDetail: "no Content-Type"},
		{name: "latin-1 charset", body: `{"name":"Ada"}`, contentType: "application/json; charset=iso-8859-1", wantStatus: 415, wantSlug: "unsupported-media-type"},
		{name: "utf-8 charset", body: `{"name":"Ada"}`, contentType: "application/json; charset=UTF-8"},
		{name: "structured suffix", body: `{"name":"Ada"}`, contentType: "application/merge-patch+json"},
		{name: "empty body without a type", body: ``, contentType: "-", wantStatus: 400, wantSlug: "empty-body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			r := jsonRequest(method, "/v1/contacts", tc.body)
			switch tc.contentType {
			case "":
			case "-":
				r.Header.Del("Content-Type")
			default:
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.body == "" {
				r.Body = http.NoBody
			}
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
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail: want %q in %q", tc.wantDetail, p.Detail)
			}
			if tc.wantAccept != "" && w.Header().Get(tc.wantAccept) != "application/json" {
				t.Errorf("want %s: application/json, have %v", tc.wantAccept, w.Header())
			}
		})
	}
}

func TestIsJSONMediaType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, `Application/JSON; Charset="UTF-8"`: true,
		"application/problem+json": true, "application/merge-patch+json; charset=utf-8": true,
		"": false, "text/plain": false, "text/json": false, "application/x-www-form-urlencoded": false,
		"multipart/form-data; boundary=x": false, "application/json; charset=utf-16": false, "application/jsonx": false,
		"image/svg+json": false, "application/json; charset": false,
	} {
		if have := httpkit.IsJSONMediaType(ct); have != want {
			t.Errorf("%q: want %v, have %v", ct, want, have)
		}
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
		err := httpkit.DecodeJSON(jsonRequest(http.MethodPost, "/", raw), &b)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

func TestValidQuery(t *testing.T) {
	h := httpkit.ValidQuery(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		query  string
		status int
		detail string // a part of the problem's detail
	}{
		{"q=%D0%90%D0%BD%D0%BD%D0%B0", 204, ""},
		{"q=a%3Bb&limit=2", 204, ""},
		{"q=%FF", 400, `"q"`},
		{"tag=%00", 400, `"tag"`},
		{"%00=x", 400, ""},
		// r.URL.Query() drops these silently.
		{"a=1;b=2", 400, `query parameter "a" holds a ";"`},
		{"limit=2&q=x;y", 400, `"q"`},
		{"q=%zz", 400, `query parameter "q" has a broken %-escape`},
		{"limit=2&%g=1", 400, `"%g"`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/contacts?"+tc.query, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.query, rec.Code, tc.status)
			continue
		}
		if tc.status != 204 {
			if p := readProblem(t, rec); slugOf(p) != "bad-query" || !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("%s: want bad-query naming %s, have %+v", tc.query, tc.detail, p)
			}
		}
	}
}

// BenchmarkDecodeJSON measures DecodeJSON on a contact as POST /v1/contacts
// receives it, next to encoding/json's strict decoder alone (what DecodeJSON
// did before it checked UTF-8 and repeated keys).
func BenchmarkDecodeJSON(b *testing.B) {
	const body = `{"first_name":"Анна","last_name":"Петрова","emails":["anna.petrova@example.com"],` +
		`"phones":["+7 495 123-45-67"],"company":"ООО «Ромашка»","title":"Head of procurement",` +
		`"tags":["vip","moscow"],"lead_source":"exhibition","time_zone":"Europe/Moscow",` +
		`"custom":{"segment":"enterprise","employees":1200,"renewal":"2027-03-01"}}`
	type contact struct {
		FirstName  string         `json:"first_name"`
		LastName   string         `json:"last_name"`
		Emails     []string       `json:"emails"`
		Phones     []string       `json:"phones"`
		Company    string         `json:"company"`
		Title      string         `json:"title"`
		Tags       []string       `json:"tags"`
		LeadSource string         `json:"lead_source"`
		TimeZone   string         `json:"time_zone"`
		Custom     map[string]any `json:"custom"`
	}
	b.Run("DecodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var c contact
			if err := httpkit.DecodeJSON(benchRequest(body), &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json alone", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var c contact
			dec := json.NewDecoder(benchRequest(body).Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchRequest(body string) *http.Request {
	return &http.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// A declared Content-Length is the client's word, not bytes received: the
// decoder sizes its buffer by it only up to 64 KiB, so a request announcing
// megabytes and sending a few bytes (or none yet) pins no more than that.
func TestDecodeJSONDoesNotTrustContentLengthForItsBuffer(t *testing.T) {
	const declared = 8 << 20
	var allocated uint64
	h := httpkit.BodyLimit(declared)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var body contactBody
		err := httpkit.DecodeJSON(r, &body)
		runtime.ReadMemStats(&after)
		if err != nil || body.Name != "Ada" {
			t.Errorf("decode: %+v, %v", body, err)
		}
		allocated = after.TotalAlloc - before.TotalAlloc
	}))
	r := jsonRequest(http.MethodPost, "/v1/things", `{"name":"Ada"}`)
	r.ContentLength = declared
	h.ServeHTTP(httptest.NewRecorder(), r)
	if allocated > 1<<20 {
		t.Fatalf("decoding a 14-byte body that declared %d bytes allocated %d bytes", declared, allocated)
	}
}
