package testenv

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// spec is a small OpenAPI 3.1 document using what 3.1 adds over 3.0: type
// arrays with null, const, examples arrays.
const spec = `{"openapi": "3.1.0", "info": {"title": "things", "version": "1"},
 "paths": {
  "/v1/things": {
   "post": {"operationId": "createThing", "responses": {
     "201": {"description": "made", "headers": {"ETag": {"required": true, "schema": {"type": "string"}}},
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
     "422": {"$ref": "#/components/responses/Problem"}}}},
  "/v1/things/{id}": {
   "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
   "get": {"operationId": "getThing", "responses": {
     "200": {"description": "the thing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
     "404": {"$ref": "#/components/responses/Problem"}}},
   "delete": {"operationId": "deleteThing", "responses": {"204": {"description": "gone"}, "404": {"$ref": "#/components/responses/Problem"}}}},
  "/v1/things/special": {
   "get": {"operationId": "special", "responses": {"202": {"description": "no body"}}}}
 },
 "components": {
  "responses": {"Problem": {"description": "problem", "content": {"application/problem+json": {"schema": {"type": "object", "required": ["type", "status"]}}}}},
  "schemas": {"Thing": {"type": "object", "additionalProperties": false, "required": ["id", "amount", "kind"],
    "properties": {"id": {"type": "string", "format": "uuid"}, "amount": {"type": ["integer", "null"]}, "kind": {"const": "thing"}},
    "examples": [{"id": "0196b2f6-2a10-7c55-8e3b-4f1d2c9a6b70", "amount": null, "kind": "thing"}]}}}}`

// failures is a testing.TB that keeps what would fail a test.
type failures struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *failures) Helper() {}

func (r *failures) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *failures) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *failures) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *failures) Fatal(args ...any) { r.Error(args...) }

func (r *failures) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

const thingID = "0196b2f6-2a10-7c55-8e3b-4f1d2c9a6b70"

// thingServer answers as the test case says, whatever is asked.
func thingServer(t *testing.T, status int, contentType, body string, header ...string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Every reply Call receives is checked against the registered document,
// and what breaks it fails the test with what differs.
func TestCallChecksRepliesAgainstTheDocument(t *testing.T) {
	saved := contracts.list()
	t.Cleanup(func() {
		contracts.mu.Lock()
		contracts.contracts = saved
		contracts.mu.Unlock()
	})
	ValidateWith([]byte(spec))
	ValidateWith([]byte(spec))
	if n := len(contracts.list()); n != len(saved)+1 {
		t.Fatalf("%d documents registered, want %d", n, len(saved)+1)
	}
	const json, problem = "application/json", "application/problem+json"
	thing := `{"id":"` + thingID + `","amount":null,"kind":"thing"}`
	for name, tc := range map[string]struct {
		method, path string
		status       int
		ctype, body  string
		header       []string
		want         string // in the failure; "" = no failure
	}{
		"conforming":               {"GET", "/v1/things/" + thingID, 200, json, thing, nil, ""},
		"null in a type array":     {"GET", "/v1/things/x", 200, json, `{"id":"` + thingID + `","amount":null,"kind":"thing"}`, nil, ""},
		"integer in a type array":  {"GET", "/v1/things/x", 200, json, `{"id":"` + thingID + `","amount":5,"kind":"thing"}`, nil, ""},
		"wrong type":               {"GET", "/v1/things/x", 200, json, `{"id":"` + thingID + `","amount":"5","kind":"thing"}`, nil, "$.amount"},
		"format":                   {"GET", "/v1/things/x", 200, json, `{"id":"nope","amount":1,"kind":"thing"}`, nil, "uuid"},
		"const":                    {"GET", "/v1/things/x", 200, json, `{"id":"` + thingID + `","amount":1,"kind":"other"}`, nil, "$.kind"},
		"missing property":         {"GET", "/v1/things/x", 200, json, `{"id":"` + thingID + `","kind":"thing"}`, nil, "amount"},
		"extra property":           {"GET", "/v1/things/x", 200, json, `{"id":"` + thingID + `","amount":1,"kind":"thing","x":1}`, nil, "'x'"},
		"undocumented status":      {"GET", "/v1/things/x", 500, problem, `{"type":"t","status":500}`, nil, "'500'"},
		"undocumented media type":  {"GET", "/v1/things/x", 404, "text/plain", `not found`, nil, "text/plain"},
		"problem":                  {"GET", "/v1/things/x", 404, problem, `{"type":"t","status":404}`, nil, ""},
		"problem missing a member": {"GET", "/v1/things/x", 404, problem, `{"type":"t"}`, nil, "status"},
		"required header":          {"POST", "/v1/things", 201, json, thing, nil, "ETag"},
		"with the header":          {"POST", "/v1/things", 201, json, thing, []string{"ETag", `"1"`}, ""},
		"empty where a body is":    {"GET", "/v1/things/x", 200, json, ``, nil, "has none"},
		"a body where none is":     {"GET", "/v1/things/special", 202, json, `{}`, nil, "describes no body"},
		"literal beats template":   {"GET", "/v1/things/special", 202, "", ``, nil, ""},
		"no content":               {"DELETE", "/v1/things/x", 204, "", ``, nil, ""},
		"HEAD not documented":      {"HEAD", "/v1/things/x", 200, json, ``, nil, "not HEAD"},
		"method refused":           {"PUT", "/v1/things/x", 405, problem, `{"type":"t","status":405}`, nil, ""},
		"method served":            {"PUT", "/v1/things/x", 200, json, thing, nil, "not PUT"},
		"path refused":             {"GET", "/v1/nothing", 404, problem, `{"type":"t","status":404}`, nil, ""},
		"path served":              {"GET", "/v1/nothing", 200, json, `{}`, nil, "no document describes"},
		"path refused as text":     {"GET", "/v1/nothing", 404, "text/plain", `404 page not found`, nil, "no document describes"},
		"not the API":              {"GET", "/healthz", 200, "text/plain", `ok`, nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			url := thingServer(t, tc.status, tc.ctype, tc.body, tc.header...)
			rec := &failures{TB: t}
			Call(rec, tc.method, url+tc.path, "", nil)
			have := rec.all()
			switch {
			case tc.want == "" && have != "":
				t.Errorf("a conforming reply failed: %s", have)
			case tc.want != "" && !strings.Contains(have, tc.want):
				t.Errorf("have failure %q, want one naming %q", have, tc.want)
			}
		})
	}
}

// Do checks like Call and hands the body back unread.
func TestDoChecksToo(t *testing.T) {
	saved := contracts.list()
	t.Cleanup(func() {
		contracts.mu.Lock()
		contracts.contracts = saved
		contracts.mu.Unlock()
	})
	ValidateWith([]byte(spec))
	url := thingServer(t, 200, "application/json", `{"id":"x"}`)
	rec := &failures{TB: t}
	req, _ := http.NewRequest("GET", url+"/v1/things/1", nil)
	resp, err := Do(rec, req)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != `{"id":"x"}` {
		t.Errorf("the body handed back is %q", body)
	}
	if !strings.Contains(rec.all(), "uuid") {
		t.Errorf("have %q, want the id's format named", rec.all())
	}
}

func TestCheckDocument(t *testing.T) {
	rec := &failures{TB: t}
	CheckDocument(rec, []byte(spec))
	if have := rec.all(); have != "" {
		t.Fatalf("a good document failed: %s", have)
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"bad example": {`"amount": null, "kind": "thing"}]`, `"kind": "thing"}]`, "amount"},
		"dangling $ref": {`"#/components/schemas/Thing"}}}},
     "422"`, `"#/components/schemas/Nothing"}}}},
     "422"`, "points at nothing"},
		"duplicate id": {`"operationId": "special"`, `"operationId": "getThing"`, "share operationId"},
		"not 3.1":      {`"openapi": "3.1.0"`, `"openapi": "3.0.3"`, "want 3.1"},
		"not OpenAPI":  {`"info": {"title": "things", "version": "1"}`, `"info": {"title": "things"}`, "valid OpenAPI"},
		"no responses": {`"responses": {"202": {"description": "no body"}}`, `"responses": {}`, "special"},
		"media example": {`"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
     "404"`, `"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}, "examples": {"a": {"value": {"id": 1}}}}}},
     "404"`, "examples/a"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(spec, tc.from, tc.to, 1)
			if doc == spec {
				t.Fatal("the case changes nothing")
			}
			rec := &failures{TB: t}
			CheckDocument(rec, []byte(doc))
			if have := rec.all(); !strings.Contains(have, tc.want) {
				t.Errorf("have %q, want a failure naming %q", have, tc.want)
			}
		})
	}
}

// thingMux serves the things API as a service would, with some routes
// changed by the test case.
func thingMux(t *testing.T, extra ...string) string {
	mux := http.NewServeMux()
	ok := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		httpkit.WriteProblem(w, r, httpkit.Problem{Type: httpkit.ProblemType("not-found"), Status: 404, Detail: "thing not found"})
	}
	mux.HandleFunc("POST /v1/things", ok(422))
	mux.HandleFunc("GET /v1/things/{id}", notFound)
	mux.HandleFunc("DELETE /v1/things/{id}", notFound)
	mux.HandleFunc("GET /v1/things/special", ok(202))
	for _, p := range extra {
		mux.HandleFunc(p, ok(200))
	}
	srv := httptest.NewServer(httpkit.ProblemMux(mux))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckRoutes(t *testing.T) {
	withHead := strings.Replace(spec, `"/v1/things/special": {
   "get": {"operationId": "special", "responses": {"202": {"description": "no body"}}}}`, `"/v1/things/special": {
   "get": {"operationId": "special", "responses": {"202": {"description": "no body"}}},
   "head": {"operationId": "headSpecial", "responses": {"202": {"description": "no body"}}}}`, 1)
	withHead = strings.Replace(withHead, `"delete": {"operationId": "deleteThing"`, `"head": {"operationId": "headThing", "responses": {"200": {"description": "the thing"}, "404": {"description": "none"}}},
   "delete": {"operationId": "deleteThing"`, 1)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "routes.go"), []byte("package x\n\nconst extra = \"GET /v1/extra\"\nconst name = \"/v1/things/named\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		doc   string
		extra []string
		want  []string
	}{
		"equal":                     {withHead, nil, nil},
		"HEAD undocumented":         {spec, nil, []string{"HEAD /v1/things/{id} is served", "HEAD /v1/things/special is served"}},
		"a method undocumented":     {withHead, []string{"PATCH /v1/things/{id}"}, []string{"PATCH /v1/things/{id} is served"}},
		"a path undocumented":       {withHead, []string{"GET /v1/extra"}, []string{"GET /v1/extra is served"}},
		"a literal only templated":  {withHead, []string{"GET /v1/things/named"}, []string{"GET /v1/things/named is served (answered 200) but the document describes it only as GET /v1/things/{id}"}},
		"documented but not served": {strings.Replace(withHead, `"delete": {"operationId": "deleteThing", "responses": {"204": {"description": "gone"}, "404": {"$ref": "#/components/responses/Problem"}}}`, `"delete": {"operationId": "deleteThing", "responses": {"204": {"description": "gone"}, "404": {"$ref": "#/components/responses/Problem"}}}, "patch": {"operationId": "patchThing", "responses": {"200": {"description": "ok"}}}`, 1), nil, []string{"describes PATCH /v1/things/{id}, which the service does not serve"}},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &failures{TB: t}
			CheckRoutes(rec, thingMux(t, tc.extra...), "token", []byte(tc.doc), src)
			have := rec.all()
			if len(tc.want) == 0 && have != "" {
				t.Errorf("equal routes failed: %s", have)
			}
			for _, w := range tc.want {
				if !strings.Contains(have, w) {
					t.Errorf("have %q, want a failure naming %q", have, w)
				}
			}
		})
	}
}
