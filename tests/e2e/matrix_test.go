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

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// TestCrossTenantMatrix runs make run's platform and attacks tenant demo
// (A) from tenant demo-2 (B) with every operation of every OpenAPI
// document the gateway serves, generated from the documents themselves.
// Both tenants make one record of every kind. B calls every operation on
// A's ids: an operation with a record in its path once with A's record
// there (404), and once per id a query or a body may name with B's own
// records in the path and A's id in that one member; an operation without
// one once plainly and once per id member naming A's record. A refusal is
// 404, or 422 naming exactly that member, or an empty list; no answer
// holds any of A's data; A's records are unchanged afterwards, and so is
// B's record a refused write named. An operation the generator cannot fill
// (a parameter or an id-valued field it has no record for) fails the test,
// and so do fewer operations covered than the documents hold.
func TestCrossTenantMatrix(t *testing.T) {
	p := platform.New(t, platform.Build(t), filepath.Join(t.TempDir(), "data"))
	p.Start()
	defer p.Stop()
	gw := p.Gateway
	docs, documented := readDocuments(t, gw, catalog.Names()...)
	if documented == 0 {
		t.Fatal("the documents the gateway serves hold no operations")
	}
	a, b := p.Token("demo", "admin"), p.Token("demo-2", "admin")

	fa, fb := makeFixtures(t, gw, a), makeFixtures(t, gw, b)
	before := snapshot(t, gw, a, fa)
	ids := uuidsIn(before)
	for _, id := range fa.ids {
		ids[id] = true
	}

	covered, requests := 0, 0
	for _, d := range docs {
		for _, op := range d.Ops {
			t.Run(op.Route(), func(t *testing.T) {
				rqs := matrixRequests(t, d, op, fa, fb)
				if len(rqs) > 0 && !t.Failed() {
					covered++
				}
				for _, rq := range rqs {
					requests++
					var held any
					if rq.record != "" {
						rec := testenv.Call(t, "GET", gw+rq.record, b, nil).Want(t, http.StatusOK)
						held = state(rec)
						if rq.ifMatch {
							rq.headers = append(slices.Clone(rq.headers), "If-Match", rec.Header.Get("ETag"))
						}
					}
					r := testenv.Call(t, op.Method, gw+rq.path, b, rq.body, rq.headers...)
					t.Logf("%s %s %s → %d", op.Method, rq.path, rq.names, r.Status)
					if why := verdict(t, gw, b, op.Method, rq, r); why != "" {
						t.Errorf("%s %s: %s: %.300s", op.Method, rq.path, why, r.Raw)
					}
					if leak := leaked(r, ids, fa.marker, rq); leak != "" {
						t.Errorf("%s %s answered %d with tenant A's %s: %.500s", op.Method, rq.path, r.Status, leak, r.Raw)
					}
					if rq.record != "" {
						now := state(testenv.Call(t, "GET", gw+rq.record, b, nil).Want(t, http.StatusOK))
						if !reflect.DeepEqual(held, now) {
							t.Errorf("%s %s naming A's %s changed B's own %s:\nbefore %v\nafter  %v", op.Method, rq.path, rq.names, rq.record, held, now)
						}
					}
				}
			})
		}
	}
	t.Logf("cross-tenant matrix: %d operations of %d documents (which hold %d), %d requests", covered, len(docs), documented, requests)
	if covered < documented {
		t.Errorf("the matrix covered %d operations, the documents hold %d", covered, documented)
	}

	after := snapshot(t, gw, a, fa)
	for k, v := range before {
		if !reflect.DeepEqual(v, after[k]) {
			t.Errorf("tenant A's %s changed while B attacked it:\nbefore %v\nafter  %v", k, v, after[k])
		}
	}
}

// verdict is what is wrong with r, the answer to rq ("" nothing): A's
// record in the path answers 404; A's id in a member answers 404, 422
// naming that member and no other (the rest of the request is B's own and
// valid), or, for a list, 200 with no item; a request naming nothing of
// A's is B's own and never a server error.
func verdict(t *testing.T, gw, tok, method string, rq matrixRequest, r testenv.Reply) string {
	t.Helper()
	switch {
	case rq.foreignPath:
		if r.Status != http.StatusNotFound {
			return fmt.Sprintf("with another tenant's record in the path: have %d, want 404", r.Status)
		}
		return ""
	case rq.names == "":
		if r.Status >= 300 {
			return fmt.Sprintf("B's own request: have %d", r.Status)
		}
		return ""
	}
	if method == http.MethodHead {
		// HEAD has no body to name a member in: its GET must answer the
		// same, and be a refusal.
		g := testenv.Call(t, "GET", gw+rq.path, tok, nil, rq.headers...)
		if g.Status != r.Status {
			return fmt.Sprintf("naming another tenant's %s: HEAD answered %d, GET %d", rq.names, r.Status, g.Status)
		}
		r, method = g, http.MethodGet
	}
	switch {
	case r.Status == http.StatusNotFound:
		return ""
	case r.Status == http.StatusUnprocessableEntity:
		fields := r.FieldPaths()
		if len(fields) == 0 {
			return fmt.Sprintf("naming another tenant's %s: a 422 that names no member", rq.names)
		}
		for _, f := range fields {
			if f != rq.names && !strings.HasPrefix(f, rq.names+"/") {
				return fmt.Sprintf("naming another tenant's %s: a 422 about %s", rq.names, f)
			}
		}
		return ""
	case r.Status == http.StatusOK && method == http.MethodGet && emptyList(r):
		return ""
	}
	return fmt.Sprintf("naming another tenant's %s: have %d, want 404, 422 naming %[1]s, or an empty list", rq.names, r.Status)
}

// emptyList tells whether r is a list without an item: a JSON page with
// no items, or a CSV file with its header only.
func emptyList(r testenv.Reply) bool {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		return !strings.Contains(strings.TrimSpace(string(r.Raw)), "\n")
	}
	items, ok := r.Body["items"].([]any)
	return ok && len(items) == 0
}

// state is a record as read, without what is computed at read time.
func state(r testenv.Reply) any {
	return map[string]any{"etag": r.Header.Get("ETag"), "body": withoutReadTime(r.Body)}
}

// readDocuments reads the services' OpenAPI documents from the gateway, as
// a client would, and checks every answer the test receives against them.
// documented is how many operations the documents hold, counted apart from
// the parser, so that an operation it dropped is not an operation skipped.
func readDocuments(t *testing.T, gateway string, services ...string) (docs []*testenv.Document, documented int) {
	t.Helper()
	var raws [][]byte
	for _, s := range services {
		r := testenv.Call(t, "GET", gateway+"/v1/"+s+"/openapi.json", "", nil).Want(t, http.StatusOK)
		d, err := testenv.ParseDocument(r.Raw)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var raw struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(r.Raw, &raw); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		for _, item := range raw.Paths {
			for m := range item {
				if slices.Contains(testenv.Methods, strings.ToUpper(m)) {
					documented++
				}
			}
		}
		docs, raws = append(docs, d), append(raws, r.Raw)
	}
	testenv.ValidateWith(raws...)
	return docs, documented
}

// fixtures are a tenant's records, one of every kind, by the collection
// that holds them ("contacts", "stages"...), and the marker in their text.
type fixtures struct {
	marker string
	ids    map[string]string
	etags  map[string]string // by id
	second string            // another contact, for merges
	target string            // a contact another was merged into, for unmerges
	closed string            // a lost deal, for reopening
	// lists are the valid values of a list of ids, by collection: every
	// stage of the pipeline in order, the contact to merge.
	lists map[string][]string
}

func makeFixtures(t *testing.T, gw, tok string) *fixtures {
	t.Helper()
	m := "mx" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	f := &fixtures{marker: m, ids: map[string]string{}, etags: map[string]string{}, lists: map[string][]string{}}
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
	f.ids["tasks"] = post("/v1/tasks", map[string]any{"kind": "call", "subject": "Matrix " + m, "due_at": "2027-01-15T10:00:00+03:00",
		"contact_id": f.ids["contacts"], "deal_id": f.ids["deals"], "company_id": f.ids["companies"]}).Str("id")
	f.ids["outcomes"] = post("/v1/outcomes", map[string]any{"key": "matrix_" + strings.ToLower(m), "label": "Matrix " + m, "action": "complete"}).Str("id")
	f.ids["calendars"] = post("/v1/calendars", map[string]any{"user_id": "matrix-" + m, "time_zone": "Europe/Moscow",
		"week": map[string]any{"monday": []any{map[string]any{"from": "09:00", "to": "18:00"}}}}).Str("id")
	f.closed = post("/v1/deals", map[string]any{"title": "Matrix lost " + m}).Str("id")
	post("/v1/deals/"+f.closed+"/lose", map[string]any{"reason_id": f.ids["loss-reasons"]})
	f.target = post("/v1/contacts", map[string]any{"first_name": "Цель", "last_name": m,
		"emails": []string{m + "-4@matrix.example"}}).Str("id")
	merged := post("/v1/contacts", map[string]any{"first_name": "Слитый", "last_name": m,
		"emails": []string{m + "-5@matrix.example"}}).Str("id")
	post("/v1/contacts/"+f.target+"/merge", map[string]any{"from": []string{merged}})

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
	f.etags[f.closed] = testenv.Call(t, "GET", gw+"/v1/deals/"+f.closed, tok, nil).Want(t, http.StatusOK).Header.Get("ETag")
	f.etags[f.target] = testenv.Call(t, "GET", gw+"/v1/contacts/"+f.target, tok, nil).Want(t, http.StatusOK).Header.Get("ETag")
	f.lists["contacts"] = []string{f.second}
	stages, _ := testenv.Call(t, "GET", gw+"/v1/pipelines/"+f.ids["pipelines"], tok, nil).Body["stages"].([]any)
	for _, s := range stages {
		id, _ := s.(map[string]any)["id"].(string)
		f.lists["stages"] = append(f.lists["stages"], id)
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
		"/v1/contacts/" + f.second, "/v1/contacts/" + f.target, "/v1/deals/" + f.closed,
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
	path        string
	body        any
	headers     []string
	foreignPath bool   // a path parameter names a record of A: 404 expected
	names       string // the parameter or member holding A's id ("" none)
	record      string // B's record in the path, which a refused write leaves as it was ("" none)
	ifMatch     bool   // send record's current ETag
	sent        string // everything the request says, to tell an echo from a leak
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

// matrixRequests are the calls of op as tenant B. Every request is B's
// own (B's ids, the least body the document allows) but for one thing of
// A's. An operation with a record in its path: one call with A's records
// in the path, then, with B's records in the path, one per id-valued
// parameter or body member naming A's record there. One without: a plain
// call and one more per id member naming A's record.
func matrixRequests(t *testing.T, d *testenv.Document, op *testenv.Operation, a, b *fixtures) []matrixRequest {
	t.Helper()
	segs := strings.Split(op.Path, "/")
	pathA, pathB := slices.Clone(segs), slices.Clone(segs)
	first := -1 // the segment of the first path parameter
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		kind := segs[i-1]
		pathA[i], pathB[i] = pathRecord(op, kind, a), pathRecord(op, kind, b)
		if pathA[i] == "" || pathB[i] == "" || op.Param("path", strings.Trim(s, "{}")) == nil {
			t.Errorf("%s: no record for path parameter %s (after /%s/)", op.Route(), s, segs[i-1])
			return nil
		}
		if first < 0 {
			first = i
		}
	}
	inPath := first >= 0

	var base matrixRequest
	query := url.Values{}
	var idParams []string
	ifMatch := false
	for _, p := range op.Params {
		switch {
		case p.In == "query" && isID(d, p.Schema):
			idParams = append(idParams, p.Name)
			if p.Required {
				query.Set(p.Name, fx(t, op, p.Name, b))
			}
		case p.In == "query" && p.Required:
			query.Set(p.Name, fmt.Sprint(sample(t, d, op, p.Name, p.Schema, b)))
		case p.In == "header" && p.Name == "Idempotency-Key":
			base.headers = append(base.headers, "Idempotency-Key", uuid.NewString())
		case p.In == "header" && p.Name == "If-Match":
			ifMatch = inPath
		case p.Required && p.In != "path":
			t.Errorf("%s: the matrix cannot fill the required %s parameter %s", op.Route(), p.In, p.Name)
		}
	}
	var bodyIDs []string
	var schema map[string]any
	if op.Body != nil {
		if strings.Contains(op.Body.MediaType, "json") {
			schema = d.Resolve(op.Body.Schema)
			base.body = sample(t, d, op, "", schema, b)
			if body, ok := base.body.(map[string]any); ok {
				for _, name := range beyondSchema[op.Route()] {
					body[name] = sample(t, d, op, name, properties(d, schema)[name], b)
				}
			}
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
	finish := func(r matrixRequest, segs []string, q url.Values) matrixRequest {
		r.path = strings.Join(segs, "/")
		if len(q) > 0 {
			r.path += "?" + q.Encode()
		}
		r.headers = renewKey(r.headers)
		raw, _ := json.Marshal(r.body)
		r.sent = r.path + " " + string(raw)
		return r
	}

	var out []matrixRequest
	own := segs
	if inPath {
		r := base
		r.foreignPath = true
		if ifMatch {
			r.headers = append(slices.Clone(r.headers), "If-Match", a.etags[pathA[first]])
		}
		out = append(out, finish(r, pathA, query))
		own = pathB
		base.ifMatch = ifMatch
		if op.Method != http.MethodGet && op.Method != http.MethodHead {
			base.record = strings.Join(pathB[:first+1], "/")
		}
	} else {
		out = append(out, finish(base, segs, query))
	}
	for _, name := range idParams {
		q := url.Values{}
		maps.Copy(q, query)
		q.Set(name, fx(t, op, name, a))
		r := base
		r.names = name
		out = append(out, finish(r, own, q))
	}
	for _, name := range bodyIDs {
		body, _ := base.body.(map[string]any)
		withID := maps.Clone(body)
		if withID == nil {
			withID = map[string]any{}
		}
		if isIDList(d, properties(d, schema)[name]) {
			// B's own list with its last id A's: a list of the right
			// length, wrong in that id only.
			l := slices.Clone(idList(t, op, name, b))
			l[len(l)-1] = fx(t, op, name, a)
			withID[name] = l
		} else {
			withID[name] = fx(t, op, name, a)
		}
		r := base
		r.body = withID
		r.names = name
		out = append(out, finish(r, own, query))
	}
	return out
}

// beyondSchema are the members a least body needs besides those its
// schema requires, by a rule the schema does not state: an activity
// concerns a contact or a company, a contact and a company need a name.
var beyondSchema = map[string][]string{
	"POST /v1/activities": {"contact_id"},
	"POST /v1/contacts":   {"first_name"},
	"POST /v1/companies":  {"name"},
}

// pathRecord is f's record for the path parameter after /kind/ in op:
// reopening takes a closed deal and unmerging a contact another was merged
// into, so that the deal's or the contact's state does not answer before
// the ids the body names are read.
func pathRecord(op *testenv.Operation, kind string, f *fixtures) string {
	switch op.Route() {
	case "POST /v1/deals/{id}/reopen":
		return f.closed
	case "POST /v1/contacts/{id}/unmerge":
		return f.target
	}
	return f.ids[kind]
}

func renewKey(headers []string) []string {
	out := slices.Clone(headers)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == "Idempotency-Key" {
			out[i+1] = uuid.NewString()
		}
	}
	return out
}

// fx is f's record for an id-valued parameter or member.
func fx(t *testing.T, op *testenv.Operation, name string, f *fixtures) string {
	t.Helper()
	kind, ok := refs[name]
	if !ok || f.ids[kind] == "" {
		t.Errorf("%s: no record for %s (add it to refs)", op.Route(), name)
		return uuid.NewString()
	}
	if name == "from" || name == "contacts" {
		return f.second
	}
	return f.ids[kind]
}

// idList is f's valid value for a list of ids: every stage of the
// pipeline in order, the contact to merge, or else one record.
func idList(t *testing.T, op *testenv.Operation, name string, f *fixtures) []any {
	t.Helper()
	var out []any
	for _, id := range f.lists[refs[name]] {
		out = append(out, id)
	}
	if len(out) == 0 {
		out = append(out, fx(t, op, name, f))
	}
	return out
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
// a value of the type; an id (or a list of ids) comes from f's fixtures by
// its name.
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
		if isIDList(d, s) && name != "" {
			return idList(t, op, name, f)
		}
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
