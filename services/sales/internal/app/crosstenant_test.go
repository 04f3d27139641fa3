package app_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// route is one request against an id-taking route.
type route struct {
	name, method, path string
	Body               any
}

// idRoutes are the requests of every id-taking route aimed at pipeline pid
// (with stages st, st having at least two), deal did and loss reason rid.
func idRoutes(pid string, st []string, did, rid string) []route {
	p, d := "/v1/pipelines/"+pid, "/v1/deals/"+did
	reversed := slices.Clone(st)
	slices.Reverse(reversed)
	return []route{
		{"get pipeline", "GET", p, nil},
		{"rename pipeline", "PATCH", p, map[string]any{"name": "Hijacked"}},
		{"delete pipeline", "DELETE", p, nil},
		{"board", "GET", p + "/board", nil},
		{"add stage", "POST", p + "/stages", map[string]any{"name": "Injected", "probability": 30}},
		{"change stage", "PATCH", p + "/stages/" + st[0], map[string]any{"name": "Hijacked", "probability": 99}},
		{"reorder stages", "PUT", p + "/stages/order", map[string]any{"stage_ids": reversed}},
		{"delete stage", "DELETE", p + "/stages/" + st[1], nil},
		{"delete stage moving its deals", "DELETE", p + "/stages/" + st[0] + "?move_to=" + st[1], nil},
		{"get deal", "GET", d, nil},
		{"update deal", "PATCH", d, map[string]any{"title": "Hijacked", "amount": 1}},
		{"delete deal", "DELETE", d, nil},
		{"deal moves", "GET", d + "/moves", nil},
		{"move deal", "POST", d + "/move", map[string]any{"stage_id": st[1]}},
		{"win deal", "POST", d + "/win", nil},
		{"lose deal", "POST", d + "/lose", map[string]any{"reason_id": rid, "comment": "x"}},
		{"reopen deal", "POST", d + "/reopen", nil},
		{"get loss reason", "GET", "/v1/loss-reasons/" + rid, nil},
		{"change loss reason", "PATCH", "/v1/loss-reasons/" + rid, map[string]any{"name": "Hijacked", "archived": true}},
	}
}

// tenantState is what tenant A's records look like, to compare before and after.
type tenantState struct {
	pipeline, reason []byte
	deal             map[string]any
	moves            int
	board            []byte
}

func (h *harness) stateOf(t *testing.T, tok, pid, did, rid string) tenantState {
	t.Helper()
	d := h.do("GET", "/v1/deals/"+did, tok, nil).Want(t, 200)
	deal := map[string]any{}
	for _, k := range []string{"title", "version", "stage_id", "status", "amount", "updated_at", "loss_reason_id", "closed_at"} {
		deal[k] = d.Body[k]
	}
	return tenantState{
		pipeline: h.do("GET", "/v1/pipelines/"+pid, tok, nil).Want(t, 200).Raw,
		reason:   h.do("GET", "/v1/loss-reasons/"+rid, tok, nil).Want(t, 200).Raw,
		deal:     deal,
		moves:    len(h.do("GET", "/v1/deals/"+did+"/moves", tok, nil).Want(t, 200).Body["items"].([]any)),
		board:    h.do("GET", "/v1/pipelines/"+pid+"/board", tok, nil).Want(t, 200).Raw,
	}
}

func (s tenantState) diff(t *testing.T, after tenantState) {
	t.Helper()
	if !bytes.Equal(s.pipeline, after.pipeline) {
		t.Errorf("pipeline changed:\nbefore %s\nafter  %s", s.pipeline, after.pipeline)
	}
	if !bytes.Equal(s.reason, after.reason) {
		t.Errorf("loss reason changed:\nbefore %s\nafter  %s", s.reason, after.reason)
	}
	for k, v := range s.deal {
		if after.deal[k] != v {
			t.Errorf("deal %s changed: %v → %v", k, v, after.deal[k])
		}
	}
	if s.moves != after.moves {
		t.Errorf("deal moves %d → %d", s.moves, after.moves)
	}
	if !bytes.Equal(s.board, after.board) {
		t.Errorf("board changed:\nbefore %s\nafter  %s", s.board, after.board)
	}
}

func TestAnotherTenantsRecordsAreNotFoundAndStayUnchanged(t *testing.T) {
	h := start(t)
	adminA := h.token(h.tenantA, auth.RoleAdmin)
	adminB := h.token(h.tenantB, auth.RoleAdmin)
	plA := h.pipeline(adminA)
	pidA, stA := plA["id"].(string), stageIDs(plA)
	did := h.do("POST", "/v1/deals", adminA, map[string]any{"title": "Поставка", "amount": 100000}).Want(t, 201).Str("id")
	rid := h.do("GET", "/v1/loss-reasons", adminA, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)["id"].(string)
	plB := h.pipeline(adminB)
	pidB := plB["id"].(string)
	reasonsB := h.do("GET", "/v1/loss-reasons?include_archived=true", adminB, nil).Want(t, 200).Raw

	before := h.stateOf(t, adminA, pidA, did, rid)
	beforeB := h.do("GET", "/v1/pipelines/"+pidB, adminB, nil).Want(t, 200).Raw

	routes := idRoutes(pidA, stA, did, rid)
	// Tenant A's stages through tenant B's own pipeline are no stages either.
	routes = append(routes,
		route{"change another tenant's stage in an own pipeline", "PATCH", "/v1/pipelines/" + pidB + "/stages/" + stA[0], map[string]any{"name": "Hijacked"}},
		route{"delete another tenant's stage in an own pipeline", "DELETE", "/v1/pipelines/" + pidB + "/stages/" + stA[1], nil})
	for _, rt := range routes {
		// With and without If-Match naming A's current version: a version
		// check must not reveal that the record exists.
		for _, ifMatch := range []string{"", `"1"`} {
			t.Run(rt.name+" if-match "+ifMatch, func(t *testing.T) {
				var hdr []string
				if ifMatch != "" {
					hdr = []string{"If-Match", ifMatch}
				}
				r := h.do(rt.method, rt.path, adminB, rt.Body, hdr...).Want(t, 404)
				if r.Body["status"] != 404.0 {
					t.Errorf("problem status %v: %s", r.Body["status"], r.Raw)
				}
			})
		}
	}

	// Filtering by another tenant's ids finds nothing.
	for _, q := range []string{"pipeline_id=" + pidA, "stage_id=" + stA[0], "status=open"} {
		if items := h.do("GET", "/v1/deals?"+q, adminB, nil).Want(t, 200).Body["items"].([]any); len(items) != 0 {
			t.Errorf("tenant B lists %d deals for %s", len(items), q)
		}
	}

	before.diff(t, h.stateOf(t, adminA, pidA, did, rid))
	if afterB := h.do("GET", "/v1/pipelines/"+pidB, adminB, nil).Want(t, 200).Raw; !bytes.Equal(beforeB, afterB) {
		t.Errorf("tenant B's pipeline changed:\nbefore %s\nafter  %s", beforeB, afterB)
	}
	if after := h.do("GET", "/v1/loss-reasons?include_archived=true", adminB, nil).Want(t, 200).Raw; !bytes.Equal(reasonsB, after) {
		t.Errorf("tenant B's loss reasons changed:\nbefore %s\nafter  %s", reasonsB, after)
	}
	if n := h.countRows(h.tenantB, "deals"); n != 0 {
		t.Errorf("tenant B holds %d deals", n)
	}
	if n := h.countRows(h.tenantA, "deals"); n != 1 {
		t.Errorf("tenant A holds %d deals, want 1", n)
	}
}

func TestMalformedIDsAreNotFound(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl)
	did := h.do("POST", "/v1/deals", admin, map[string]any{"title": "Fleet"}).Want(t, 201).Str("id")
	rid := h.do("GET", "/v1/loss-reasons", admin, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)["id"].(string)
	before := h.stateOf(t, admin, pid, did, rid)

	for _, bad := range []string{"not-a-uuid", "123", pid + "0"} {
		for _, rt := range idRoutes(bad, st, bad, bad) {
			t.Run(bad+" "+rt.name, func(t *testing.T) {
				h.do(rt.method, rt.path, admin, rt.Body).Want(t, 404)
			})
		}
		// A good pipeline with a malformed stage id.
		for _, rt := range []route{
			{"change stage", "PATCH", "/v1/pipelines/" + pid + "/stages/" + bad, map[string]any{"name": "X"}},
			{"delete stage", "DELETE", "/v1/pipelines/" + pid + "/stages/" + bad, nil},
		} {
			t.Run(bad+" good pipeline "+rt.name, func(t *testing.T) {
				h.do(rt.method, rt.path, admin, rt.Body).Want(t, 404)
			})
		}
	}
	before.diff(t, h.stateOf(t, admin, pid, did, rid))
}

// The collections without an id are the tenant's own: another tenant's
// rates, loss reasons, pipelines and deals neither show nor count.
func TestCollectionsAreEachTenantsOwn(t *testing.T) {
	h := start(t)
	adminA, adminB := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantB, auth.RoleAdmin)
	h.do("POST", "/v1/currency-rates", adminA, map[string]any{"currency": "EUR", "rate": "90.5"}).Want(t, 200)
	h.do("POST", "/v1/loss-reasons", adminA, map[string]any{"name": "Только у A"}).Want(t, 201)
	h.do("POST", "/v1/pipelines", adminA, map[string]any{"name": "Только у A"}).Want(t, 201)
	h.newDeal(t, adminA, map[string]any{"title": "A's", "amount": 100, "currency": "EUR"})

	if items := h.do("GET", "/v1/currency-rates", adminB, nil).Want(t, 200).Body["items"].([]any); len(items) != 0 {
		t.Errorf("B sees rates %v", items)
	}
	// A's rate does not let B deal in euros.
	h.do("POST", "/v1/deals", adminB, map[string]any{"title": "x", "amount": 100, "currency": "EUR"}).Want(t, 422)
	for _, path := range []string{"/v1/loss-reasons", "/v1/pipelines", "/v1/deals"} {
		r := h.do("GET", path, adminB, nil).Want(t, 200)
		if strings.Contains(string(r.Raw), "Только у A") || strings.Contains(string(r.Raw), "A's") {
			t.Errorf("%s shows A's records: %s", path, r.Raw)
		}
	}
	if n := len(h.do("GET", "/v1/pipelines", adminB, nil).Body["items"].([]any)); n != 1 {
		t.Errorf("B has %d pipelines, want its own default one", n)
	}
}
