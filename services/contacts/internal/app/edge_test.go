package app_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// The HTTP edge of issue 12: what a careless or hostile client sends.

func TestIfMatchFollowsRFC9110(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	id := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	path := "/v1/contacts/" + id
	// A weak tag never matches under strong comparison.
	h.do("PATCH", path, tok, map[string]any{"last_name": "Weak"}, "If-Match", `W/"1"`).Want(t, http.StatusPreconditionFailed)
	// A list matches when any member does.
	r := h.do("PATCH", path, tok, map[string]any{"last_name": "Listed"}, "If-Match", `"1", "2"`).Want(t, http.StatusOK)
	if r.Header.Get("ETag") != `"2"` {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("PATCH", path, tok, map[string]any{"last_name": "Stale"}, "If-Match", `"1", W/"2"`).Want(t, http.StatusPreconditionFailed)
	// A tag this API never made is valid and matches nothing; only broken syntax is 400.
	h.do("PATCH", path, tok, map[string]any{"last_name": "Foreign"}, "If-Match", `"abc"`).Want(t, http.StatusPreconditionFailed)
	h.do("PATCH", path, tok, map[string]any{"last_name": "Broken"}, "If-Match", `"2`).Want(t, http.StatusBadRequest)
	h.do("PATCH", path, tok, map[string]any{"last_name": "Any"}, "If-Match", `*`).Want(t, http.StatusOK)
	g := h.do("GET", path, tok, nil).Want(t, http.StatusOK)
	if g.Body["last_name"] != "Any" || g.Body["version"].(float64) != 3 {
		t.Fatalf("refused patches changed the contact: %s", g.Raw)
	}
}

// A body encoding/json would have changed or half-read is refused, and
// nothing is stored.
func TestJSONBodiesAreReadExactlyOrRefused(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	r := h.do("POST", "/v1/contacts", tok, "{\"first_name\":\"\xff\xfe\"}").Want(t, http.StatusBadRequest)
	if r.Body["type"] != "https://rapport.dev/problems/invalid-utf8" || !strings.Contains(r.Body["detail"].(string), "byte offset 15") {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("POST", "/v1/contacts", tok, `{"first_name":"\udc00"}`).Want(t, http.StatusBadRequest)
	r = h.do("POST", "/v1/contacts", tok, `{"first_name":"Anna","first_name":"Mallory"}`).Want(t, http.StatusBadRequest)
	if r.Body["type"] != "https://rapport.dev/problems/duplicate-key" || len(r.FieldPaths()) != 1 || r.FieldPaths()[0] != "first_name" {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("POST", "/v1/contacts", tok, `{"first_name":"Anna","emails":["a@example.com"],"FIRST_NAME":"Mallory"}`).Want(t, http.StatusBadRequest)
	if n := h.countRows(h.tenantA, "contacts"); n != 0 {
		t.Fatalf("%d contacts stored from refused bodies", n)
	}
	// What the client quotes comes back as it was written, not \u003c.
	r = h.do("POST", "/v1/contacts", tok, `{"first_name":"Anna","<script>":1}`).Want(t, http.StatusBadRequest)
	if !strings.Contains(string(r.Raw), `"<script>"`) {
		t.Fatalf("detail escaped: %s", r.Raw)
	}
}

// Only a JSON media type is read as JSON; the CSV upload keeps its own types.
func TestBodiesOfAnotherMediaTypeAre415(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	body := `{"first_name":"Anna","emails":["anna@example.com"]}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=windows-1251"} {
		r := h.do("POST", "/v1/contacts", tok, body, "Content-Type", ct).Want(t, http.StatusUnsupportedMediaType)
		if r.Body["type"] != "https://rapport.dev/problems/unsupported-media-type" || r.Header.Get("Accept-Post") != "application/json" {
			t.Fatalf("%s: %v %s", ct, r.Header, r.Raw)
		}
	}
	req, err := http.NewRequest("POST", h.url+"/v1/contacts", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := testenv.Do(t, req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("a body without Content-Type: %d", resp.StatusCode)
	}
	if n := h.countRows(h.tenantA, "contacts"); n != 0 {
		t.Fatalf("%d contacts stored from refused bodies", n)
	}
	id := h.do("POST", "/v1/contacts", tok, body, "Content-Type", "application/json; charset=utf-8").Want(t, http.StatusCreated).Body["id"].(string)
	r := h.do("PATCH", "/v1/contacts/"+id, tok, `{"last_name":"X"}`, "Content-Type", "text/plain").Want(t, http.StatusUnsupportedMediaType)
	if r.Header.Get("Accept-Patch") != "application/json" {
		t.Fatalf("PATCH 415 without Accept-Patch: %v", r.Header)
	}
	h.do("POST", "/v1/imports?entity=contacts", tok, "first_name,emails\nBoris,boris@example.com\n", "Content-Type", "text/csv").Want(t, http.StatusAccepted)
}

// A query string r.URL.Query() would read only in part is refused.
func TestQueryStringsThatDoNotParseAre400(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	r := h.do("GET", "/v1/contacts?limit=1;q=x", tok, nil).Want(t, http.StatusBadRequest)
	if r.Body["type"] != "https://rapport.dev/problems/bad-query" || !strings.Contains(r.Body["detail"].(string), `"limit"`) {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("GET", "/v1/contacts?a=1;b=2", tok, nil).Want(t, http.StatusBadRequest)
	h.do("GET", "/v1/contacts?q=%zz", tok, nil).Want(t, http.StatusBadRequest)
}

// What net/http itself answers, before the service's handler runs, is a
// problem too.
func TestUnreadableRequestsGetProblems(t *testing.T) {
	h := start(t)
	addr := strings.TrimPrefix(h.url, "http://")
	for name, tc := range map[string]struct {
		Raw    string
		Status int
	}{
		"NUL in a header": {"GET /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x00b\r\n\r\n", http.StatusBadRequest},
		"2 MB header":     {"GET /v1/contacts HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := rawRequest(t, addr, tc.Raw)
			var p map[string]any
			if resp.StatusCode != tc.Status || resp.Header.Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(body, &p) != nil || p["status"] != float64(tc.Status) {
				t.Fatalf("have %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

// rawRequest sends bytes no HTTP client would, reading the answer while it
// writes so that a server hanging up on a long request is still heard.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { _, _ = io.WriteString(c, raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
