package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// TestCrossTenantMatrix runs make run's platform and attacks tenant demo
// (A) from tenant demo-2 (B) with every operation of every OpenAPI
// document the gateway serves, generated from the documents themselves:
// A makes one record of every kind, then B calls every operation on A's
// ids (path parameters, and every id a query or a body may name) and must
// get 404 for a record in the path, and nowhere any of A's data; A's
// records are unchanged afterwards. An operation the generator cannot fill
// (a parameter or an id-valued field it has no record of A for) fails the
// test, so a new operation is covered or the test breaks.
func TestCrossTenantMatrix(t *testing.T) {
	p := platform.New(t, platform.Build(t), filepath.Join(t.TempDir(), "data"))
	p.Start()
	defer p.Stop()
	docs := readDocuments(t, p.Gateway, "contacts", "sales")
	a, b := p.Token("demo", "admin"), p.Token("demo-2", "admin")

	fx := makeFixtures(t, p.Gateway, a)
	before := snapshot(t, p.Gateway, a, fx)
	ids := uuidsIn(before)
	for _, id := range fx.ids {
		ids[id] = true
	}

	ops, requests := 0, 0
	for _, d := range docs {
		for _, op := range d.Ops {
			ops++
			t.Run(op.Route(), func(t *testing.T) {
				for _, rq := range matrixRequests(t, d, op, fx) {
					requests++
					r := testenv.Call(t, op.Method, p.Gateway+rq.path, b, rq.body, rq.headers...)
					t.Logf("%s %s %s → %d", op.Method, rq.path, rq.names, r.Status)
					if rq.recordInPath && r.Status != http.StatusNotFound {
						t.Errorf("%s %s with another tenant's ids: have %d, want 404: %.300s", op.Method, rq.path, r.Status, r.Raw)
					}
					if !rq.recordInPath && rq.names != "" && op.Method != http.MethodGet && op.Method != http.MethodHead && r.Status < 400 {
						t.Errorf("%s %s naming another tenant's %s: have %d, want a refusal: %.300s", op.Method, rq.path, rq.names, r.Status, r.Raw)
					}
					if leak := leaked(r, ids, fx.marker, rq); leak != "" {
						t.Errorf("%s %s answered %d with tenant A's %s: %.500s", op.Method, rq.path, r.Status, leak, r.Raw)
					}
				}
			})
		}
	}
	t.Logf("cross-tenant matrix: %d operations of %d documents, %d requests", ops, len(docs), requests)

	after := snapshot(t, p.Gateway, a, fx)
	for k, v := range before {
		if !reflect.DeepEqual(v, after[k]) {
			t.Errorf("tenant A's %s changed while B attacked it:\nbefore %v\nafter  %v", k, v, after[k])
		}
	}
}

// readDocuments reads the services' OpenAPI documents from the gateway, as
// a client would, and checks every answer the test receives against them.
func readDocuments(t *testing.T, gateway string, services ...string) []*testenv.Document {
	t.Helper()
	var docs []*testenv.Document
	var raws [][]byte
	for _, s := range services {
		r := testenv.Call(t, "GET", gateway+"/v1/"+s+"/openapi.json", "", nil).Want(t, http.StatusOK)
		d, err := testenv.ParseDocument(r.Raw)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		docs, raws = append(docs, d), append(raws, r.Raw)
	}
	testenv.ValidateWith(raws...)
	return docs
}

// fixtures are tenant A's records, one of every kind, by the collection
// that holds them ("contacts", "stages"...), and the marker in their text.
type fixtures struct {
	marker string
	ids    map[string]string
	etags  map[string]string // by id
	second string            // another contact, for merges
}

func makeFixtures(t *testing.T, gw, tok string) *fixtures {
	t.Helper()
	m := "mx" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	f := &fixtures{marker: m, ids: map[string]string{}, etags: map[string]string{}}
	post := func(path string, body any, headers ...string) testenv.Reply {
		t.Helper()
		r := testenv.Call(t, "POST", gw+path, tok, body, headers...)
		if r.Status >= 300 {
			t.Fatalf("fixture %s: %d %s", path, r.Status, r.Raw)
		}
		return r
	}
	f.ids["companies"] = post("/v1/companies", map[string]any{"name": "Матрица " + m}).Str("id")
	f.ids["contacts"] = post("/v1/contacts", map[string]any{"first_name": "Матрица", "last_name": m,
		"emails": []string{m + "@matrix.example"}, "company_id": f.ids["companies"]}).Str("id")
	f.second = post("/v1/contacts", map[string]any{"first_name": "Второй", "last_name": m,
		"emails": []string{m + "-2@matrix.example"}}).Str("id")
	f.ids["fields"] = post("/v1/fields", map[string]any{"entity": "contact", "key": m, "label": "Matrix " + m, "type": "text"}).Str("id")
	f.ids["activities"] = post("/v1/activities", map[string]any{"kind": "call", "contact_id": f.ids["contacts"], "subject": m}).Str("id")
	f.ids["imports"] = post("/v1/imports?entity=contacts", "first_name,last_name,emails\nИмпорт,"+m+","+m+"-3@matrix.example\nПлохой,"+m+",not-an-email\n",
		"Content-Type", "text/csv").Str("id")
	pl := post("/v1/pipelines", map[string]any{"name": "Matrix " + m})
	f.ids["pipelines"] = pl.Str("id")
	st := post("/v1/pipelines/"+f.ids["pipelines"]+"/stages", map[string]any{"name": "Matrix stage " + m}, "If-Match", pl.Header.Get("ETag"))
	if stage, _ := st.Body["stage"].(map[string]any); stage != nil {
		f.ids["stages"], _ = stage["id"].(string)
	}
	if f.ids["stages"] == "" {
		t.Fatalf("no stage in %s", st.Raw)
	}
	f.ids["deals"] = post("/v1/deals", map[string]any{"title": "Matrix " + m, "contact_id": f.ids["contacts"],
		"pipeline_id": f.ids["pipelines"], "stage_id": f.ids["stages"]}).Str("id")
	f.ids["loss-reasons"] = post("/v1/loss-reasons", map[string]any{"name": "Matrix " + m}).Str("id")

	// The import ends and the deal reaches the contact's timeline before
	// the snapshot, so that nothing of A's moves during the attack.
	waitFor(t, "the import to end", func() bool {
		return testenv.Call(t, "GET", gw+"/v1/imports/"+f.ids["imports"], tok, nil).Str("status") == "done"
	})
	waitFor(t, "the deal in the contact's timeline", func() bool {
		return strings.Contains(string(testenv.Call(t, "GET", gw+"/v1/contacts/"+f.ids["contacts"]+"/timeline", tok, nil).Raw), "crm.deal.created")
	})
	for kind, id := range f.ids {
		path := "/v1/" + kind + "/" + id
		if kind == "stages" {
			path = "/v1/pipelines/" + f.ids["pipelines"]
		}
		f.etags[id] = testenv.Call(t, "GET", gw+path, tok, nil).Want(t, http.StatusOK).Header.Get("ETag")
	}
	return f
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// snapshot is everything tenant A holds that the attack could touch: every
// fixture, the lists they are in, and what hangs off them, versions
// included; values computed at read time (a contact's local time) are left
// out.
func snapshot(t *testing.T, gw, tok string, f *fixtures) map[string]any {
	t.Helper()
	paths := []string{
		"/v1/contacts?limit=200", "/v1/companies?limit=200", "/v1/fields", "/v1/activities?limit=200",
		"/v1/deals?limit=200", "/v1/pipelines", "/v1/loss-reasons?include_archived=true", "/v1/currency-rates",
		"/v1/lead-sources", "/v1/contacts/duplicates?limit=200", "/v1/contacts/export", "/v1/companies/export",
		"/v1/contacts/" + f.second,
		"/v1/contacts/" + f.ids["contacts"] + "/timeline?limit=200", "/v1/contacts/" + f.ids["contacts"] + "/data-export",
		"/v1/companies/" + f.ids["companies"] + "/contacts", "/v1/imports/" + f.ids["imports"] + "/errors",
		"/v1/deals/" + f.ids["deals"] + "/moves", "/v1/pipelines/" + f.ids["pipelines"] + "/board",
	}
	for kind, id := range f.ids {
		if kind != "stages" {
			paths = append(paths, "/v1/"+kind+"/"+id)
		}
	}
	out := map[string]any{}
	for _, p := range paths {
		r := testenv.Call(t, "GET", gw+p, tok, nil).Want(t, http.StatusOK)
		var v any = string(r.Raw)
		if r.Body != nil {
			v = withoutReadTime(r.Body)
		}
		out[p] = map[string]any{"etag": r.Header.Get("ETag"), "body": v}
	}
	return out
}

// readTime are the members computed when a record is read: a contact's
// local time, the time a deal has spent in a stage, an export's moment.
var readTime = []string{"local_time", "seconds", "exported_at", "request_id"}

func withoutReadTime(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if !slices.Contains(readTime, k) {
				out[k] = withoutReadTime(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutReadTime(x)
		}
		return out
	}
	return v
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// uuidsIn are the ids that appear anywhere in v.
func uuidsIn(v any) map[string]bool {
	raw, _ := json.Marshal(v)
	out := map[string]bool{}
	for _, id := range uuidRE.FindAllString(string(raw), -1) {
		out[id] = true
	}
	return out
}

// matrixRequest is one call of the matrix.
type matrixRequest struct {
	path         string
	body         any
	headers      []string
	recordInPath bool   // a path parameter names a record of A: 404 expected
	names        string // what of A's the request names besides the path ("" none)
	sent         string // everything the request says, to tell an echo from a leak
}

// refs are the parameters and body members that hold an id of a record,
// by the collection of that record. A new one must be added here (the
// matrix fails on an id it cannot fill).
var refs = map[string]string{
	"contact_id": "contacts", "from": "contacts", "contacts": "contacts",
	"company_id": "companies", "deal_id": "deals", "pipeline_id": "pipelines",
	"stage_id": "stages", "stage_ids": "stages", "move_to": "stages",
	"reason_id": "loss-reasons",
}

// matrixRequests are the calls of op as tenant B: one with every record
// parameter of the path filled from A's fixtures and the least body the
// document allows (ids in it from A's too); for an operation without one,
// a plain call and one more per id-valued parameter or body member, each
// naming A's record.
func matrixRequests(t *testing.T, d *testenv.Document, op *testenv.Operation, f *fixtures) []matrixRequest {
	t.Helper()
	segs := strings.Split(op.Path, "/")
	inPath := false
	etag := ""
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		id := f.ids[segs[i-1]]
		if id == "" || op.Param("path", strings.Trim(s, "{}")) == nil {
			t.Errorf("%s: no record of tenant A for path parameter %s (after /%s/)", op.Route(), s, segs[i-1])
			return nil
		}
		segs[i] = id
		inPath = true
		etag = f.etags[id]
	}
	path := strings.Join(segs, "/")
	base := matrixRequest{path: path, recordInPath: inPath}
	query := url.Values{}
	var idParams []idParam
	for _, p := range op.Params {
		switch {
		case p.In == "query" && isID(d, p.Schema):
			idParams = append(idParams, idParam{p.Name, "query"})
		case p.In == "query" && p.Required:
			query.Set(p.Name, fmt.Sprint(sample(t, d, op, p.Name, p.Schema, f)))
		case p.In == "header" && p.Name == "Idempotency-Key":
			base.headers = append(base.headers, "Idempotency-Key", uuid.NewString())
		case p.In == "header" && p.Name == "If-Match" && etag != "":
			base.headers = append(base.headers, "If-Match", etag)
		case p.Required && p.In != "path":
			t.Errorf("%s: the matrix cannot fill the required %s parameter %s", op.Route(), p.In, p.Name)
		}
	}
	var bodyIDs []string
	if op.Body != nil {
		if strings.Contains(op.Body.MediaType, "json") {
			schema := d.Resolve(op.Body.Schema)
			base.body = sample(t, d, op, "", schema, f)
			for name, ps := range properties(d, schema) {
				if isID(d, ps) || isIDList(d, ps) {
					bodyIDs = append(bodyIDs, name)
				}
			}
			slices.Sort(bodyIDs)
		} else {
			base.body = "first_name,last_name\nМатрица,B\n"
			base.headers = append(base.headers, "Content-Type", op.Body.MediaType)
		}
	}
	withQuery := func(r matrixRequest, q url.Values) matrixRequest {
		if len(q) > 0 {
			r.path += "?" + q.Encode()
		}
		raw, _ := json.Marshal(r.body)
		r.sent = r.path + " " + string(raw)
		return r
	}
	if inPath {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		for _, p := range idParams {
			q.Set(p.name, fx(t, op, p.name, f))
		}
		return []matrixRequest{withQuery(base, q)}
	}
	out := []matrixRequest{withQuery(base, query)}
	for _, p := range idParams {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set(p.name, fx(t, op, p.name, f))
		r := base
		r.headers = renewKey(base.headers)
		r.names = p.name
		out = append(out, withQuery(r, q))
	}
	for _, name := range bodyIDs {
		body, _ := base.body.(map[string]any)
		withID := map[string]any{}
		for k, v := range body {
			withID[k] = v
		}
		if isIDList(d, properties(d, d.Resolve(op.Body.Schema))[name]) {
			withID[name] = []any{fx(t, op, name, f)}
		} else {
			withID[name] = fx(t, op, name, f)
		}
		r := base
		r.body = withID
		r.headers = renewKey(base.headers)
		r.names = name
		out = append(out, withQuery(r, query))
	}
	return out
}

// idParam is a parameter the matrix fills with one of A's ids.
type idParam struct{ name, in string }

func renewKey(headers []string) []string {
	out := slices.Clone(headers)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == "Idempotency-Key" {
			out[i+1] = uuid.NewString()
		}
	}
	return out
}

// fx is A's record for an id-valued parameter or member.
func fx(t *testing.T, op *testenv.Operation, name string, f *fixtures) string {
	t.Helper()
	kind, ok := refs[name]
	if !ok || f.ids[kind] == "" {
		t.Errorf("%s: no record of tenant A for %s (add it to refs)", op.Route(), name)
		return uuid.NewString()
	}
	if name == "from" || name == "contacts" {
		return f.second
	}
	return f.ids[kind]
}

// properties are an object schema's properties (those of its allOf
// parts too), resolved.
func properties(d *testenv.Document, s map[string]any) map[string]map[string]any {
	s = d.Resolve(s)
	out := map[string]map[string]any{}
	props, _ := s["properties"].(map[string]any)
	for k, v := range props {
		if vm, ok := v.(map[string]any); ok {
			out[k] = d.Resolve(vm)
		}
	}
	for _, part := range asList(s["allOf"]) {
		if pm, ok := part.(map[string]any); ok {
			maps.Copy(out, properties(d, pm))
		}
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// isID tells whether a schema is an id (a uuid string, maybe null).
func isID(d *testenv.Document, s map[string]any) bool {
	s = d.Resolve(s)
	if s["format"] == "uuid" {
		return true
	}
	for _, alt := range append(asList(s["anyOf"]), asList(s["oneOf"])...) {
		if am, ok := alt.(map[string]any); ok && isID(d, am) {
			return true
		}
	}
	return false
}

func isIDList(d *testenv.Document, s map[string]any) bool {
	items, ok := d.Resolve(s)["items"].(map[string]any)
	return ok && isID(d, items)
}

// sample is the least value a schema allows: an object's required
// members, an array's fewest items, an example, an enum's first value, or
// a value of the type; an id comes from A's fixtures by its name.
func sample(t *testing.T, d *testenv.Document, op *testenv.Operation, name string, s map[string]any, f *fixtures) any {
	t.Helper()
	s = d.Resolve(s)
	if v, ok := s["const"]; ok {
		return v
	}
	if ex := asList(s["examples"]); len(ex) > 0 {
		return ex[0]
	}
	if en := asList(s["enum"]); len(en) > 0 {
		for _, v := range en {
			if v != nil && v != "" {
				return v
			}
		}
	}
	if isID(d, s) {
		return fx(t, op, name, f)
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		for _, alt := range asList(s[key]) {
			if am, ok := alt.(map[string]any); ok && d.Resolve(am)["type"] != "null" {
				if key != "allOf" || len(asList(s[key])) == 1 {
					return sample(t, d, op, name, am, f)
				}
			}
		}
	}
	typ, _ := s["type"].(string)
	for _, x := range asList(s["type"]) {
		if x != "null" {
			typ, _ = x.(string)
			break
		}
	}
	switch typ {
	case "object", "":
		out := map[string]any{}
		props := properties(d, s)
		for _, r := range asList(s["required"]) {
			out[r.(string)] = sample(t, d, op, r.(string), props[r.(string)], f)
		}
		return out
	case "array":
		min, _ := s["minItems"].(float64)
		out := []any{}
		items, _ := s["items"].(map[string]any)
		for range int(min) {
			out = append(out, sample(t, d, op, name, items, f))
		}
		return out
	case "string":
		switch s["format"] {
		case "date":
			return "2027-01-15"
		case "date-time":
			return "2027-01-15T10:00:00Z"
		case "email":
			return "b@matrix.example"
		}
		if _, ok := s["pattern"]; ok {
			t.Errorf("%s: %s has a pattern and no example to follow it", op.Route(), name)
		}
		n, _ := s["minLength"].(float64)
		return "Matrix B" + strings.Repeat("x", max(0, int(n)-8))
	case "integer", "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 0
	case "boolean":
		return false
	}
	return nil
}

// leaked names what of A's a reply of B holds that B's request did not
// send: an id of A's records, or the marker in A's fixtures' text.
func leaked(r testenv.Reply, aIDs map[string]bool, marker string, rq matrixRequest) string {
	text := string(r.Raw)
	for _, vs := range r.Header {
		text += " " + strings.Join(vs, " ")
	}
	if strings.Contains(text, marker) {
		return "data (" + marker + ")"
	}
	for _, id := range uuidRE.FindAllString(text, -1) {
		if aIDs[id] && !strings.Contains(rq.sent, id) {
			return "id " + id
		}
	}
	return ""
}
