package app_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

type boardDeal struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type boardColumn struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	Probability    int         `json:"probability"`
	Count          int64       `json:"count"`
	TotalAmount    int64       `json:"total_amount"`
	WeightedAmount int64       `json:"weighted_amount"`
	Deals          []boardDeal `json:"deals"`
}

type boardBody struct {
	PipelineID   string        `json:"pipeline_id"`
	BaseCurrency string        `json:"base_currency"`
	Stages       []boardColumn `json:"stages"`
	Unconverted  []string      `json:"unconverted_currencies"`
}

// board reads a pipeline's board; query is "" or "?deals_per_stage=…".
func (h *harness) board(t *testing.T, tok, pipeline, query string) boardBody {
	t.Helper()
	r := h.do("GET", "/v1/pipelines/"+pipeline+"/board"+query, tok, nil).Want(t, 200)
	var b boardBody
	if err := json.Unmarshal(r.Raw, &b); err != nil {
		t.Fatalf("board %s: %v", r.Raw, err)
	}
	return b
}

// column is the board's column of stage id; it fails the test when absent.
func (b boardBody) column(t *testing.T, stage string) boardColumn {
	t.Helper()
	for _, c := range b.Stages {
		if c.ID == stage {
			return c
		}
	}
	t.Fatalf("no column for stage %s on the board", stage)
	return boardColumn{}
}

func (c boardColumn) titles() []string {
	out := []string{}
	for _, d := range c.Deals {
		out = append(out, d.Title)
	}
	return out
}

// wantColumn checks a column's count, sums and deals (titles, in order).
func wantColumn(t *testing.T, b boardBody, stage string, count, total, weighted int64, titles ...string) {
	t.Helper()
	c := b.column(t, stage)
	if titles == nil {
		titles = []string{}
	}
	if c.Count != count || c.TotalAmount != total || c.WeightedAmount != weighted || !slices.Equal(c.titles(), titles) {
		t.Errorf("stage %q: have count %d, total %d, weighted %d, deals %q; want %d, %d, %d, %q",
			c.Name, c.Count, c.TotalAmount, c.WeightedAmount, c.titles(), count, total, weighted, titles)
	}
}

// newDeal creates a deal and returns its id.
func (h *harness) newDeal(t *testing.T, tok string, body map[string]any) string {
	t.Helper()
	return h.do("POST", "/v1/deals", tok, body).Want(t, 201).Str("id")
}

func TestBoardAddsUpStagesInTheBaseCurrency(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl) // 10, 25, 50, 80 (amount), won 100, lost 0
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "EUR", "rate": "90.5"}).Want(t, 200)
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "JPY", "rate": "0.6"}).Want(t, 200)

	rub := h.newDeal(t, admin, map[string]any{"title": "rub", "amount": 100000})                            // 1 000,00 ₽
	eur := h.newDeal(t, admin, map[string]any{"title": "eur", "amount": 10000, "currency": "EUR"})          // 100 € = 9 050,00 ₽
	jpy := h.newDeal(t, admin, map[string]any{"title": "jpy", "amount": 1000, "currency": "JPY"})           // ¥1000 (no minor unit) = 600,00 ₽
	none := h.newDeal(t, admin, map[string]any{"title": "none"})                                            // counted, adds nothing
	half := h.newDeal(t, admin, map[string]any{"title": "half", "amount": 50, "stage_id": st[1]})           // 25 % of 50 = 12.5 → 13
	h.newDeal(t, admin, map[string]any{"title": "cent", "amount": 1, "currency": "EUR", "stage_id": st[2]}) // 0,01 € = 90.5 kopecks → 91; 50 % = 45.5 → 46

	b := h.board(t, admin, pid, "")
	if b.PipelineID != pid || b.BaseCurrency != "RUB" || len(b.Unconverted) != 0 {
		t.Errorf("board %+v", b)
	}
	var ids, names []string
	for _, c := range b.Stages {
		ids, names = append(ids, c.ID), append(names, c.Name)
	}
	if !slices.Equal(ids, st) || !slices.Equal(names, stageNames(pl)) {
		t.Fatalf("board stages %v %v, want %v %v", ids, names, st, stageNames(pl))
	}
	// Newest arrival first.
	wantColumn(t, b, st[0], 4, 1065000, 106500, "none", "jpy", "eur", "rub")
	wantColumn(t, b, st[1], 1, 50, 13, "half")
	wantColumn(t, b, st[2], 1, 91, 46, "cent")
	wantColumn(t, b, st[3], 0, 0, 0)
	wantColumn(t, b, st[4], 0, 0, 0)
	wantColumn(t, b, st[5], 0, 0, 0)

	// deals_per_stage limits the deals shown, never the sums.
	wantColumn(t, h.board(t, admin, pid, "?deals_per_stage=2"), st[0], 4, 1065000, 106500, "none", "jpy")
	wantColumn(t, h.board(t, admin, pid, "?deals_per_stage=0"), st[0], 4, 1065000, 106500)
	wantColumn(t, h.board(t, admin, pid, "?deals_per_stage=100"), st[0], 4, 1065000, 106500, "none", "jpy", "eur", "rub")
	for _, q := range []string{"101", "-1", "many", "1.5"} {
		r := h.do("GET", "/v1/pipelines/"+pid+"/board?deals_per_stage="+q, admin, nil).Want(t, 422)
		if !slices.Equal(r.FieldPaths(), []string{"deals_per_stage"}) {
			t.Errorf("deals_per_stage=%s: fields %v", q, r.FieldPaths())
		}
	}

	// The sums follow moves, amounts, currencies and deletions.
	h.do("POST", "/v1/deals/"+eur+"/move", admin, map[string]any{"stage_id": st[1]}).Want(t, 200)
	b = h.board(t, admin, pid, "")
	wantColumn(t, b, st[0], 3, 160000, 16000, "none", "jpy", "rub")
	wantColumn(t, b, st[1], 2, 905050, 226263, "eur", "half") // 226262.5 rounds up

	h.do("PATCH", "/v1/deals/"+rub, admin, map[string]any{"amount": 200000}).Want(t, 200)
	wantColumn(t, h.board(t, admin, pid, ""), st[0], 3, 260000, 26000, "none", "jpy", "rub")
	h.do("PATCH", "/v1/deals/"+jpy, admin, map[string]any{"currency": "RUB"}).Want(t, 200) // ¥1000 becomes 10,00 ₽
	wantColumn(t, h.board(t, admin, pid, ""), st[0], 3, 201000, 20100, "none", "jpy", "rub")
	h.do("PATCH", "/v1/deals/"+jpy, admin, map[string]any{"amount": nil}).Want(t, 200)
	wantColumn(t, h.board(t, admin, pid, ""), st[0], 3, 200000, 20000, "none", "jpy", "rub")
	h.do("DELETE", "/v1/deals/"+none, admin, nil).Want(t, 204)
	h.do("DELETE", "/v1/deals/"+jpy, admin, nil).Want(t, 204)
	wantColumn(t, h.board(t, admin, pid, ""), st[0], 1, 200000, 20000, "rub")

	// Won deals count at the won stage's 100 %.
	h.do("POST", "/v1/deals/"+half+"/win", admin, nil).Want(t, 200)
	b = h.board(t, admin, pid, "")
	wantColumn(t, b, st[1], 1, 905000, 226250, "eur")
	wantColumn(t, b, st[4], 1, 50, 50, "half")

	// A new probability re-weighs the column.
	h.do("PATCH", "/v1/pipelines/"+pid+"/stages/"+st[1], admin, map[string]any{"probability": 15}).Want(t, 200)
	wantColumn(t, h.board(t, admin, pid, ""), st[1], 1, 905000, 135750, "eur")

	// The board's columns follow the stages' order.
	order := []string{st[1], st[0], st[2], st[3], st[5], st[4]}
	h.do("PUT", "/v1/pipelines/"+pid+"/stages/order", admin, map[string]any{"stage_ids": order}).Want(t, 200)
	b = h.board(t, admin, pid, "")
	ids = nil
	for _, c := range b.Stages {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, order) {
		t.Errorf("board stages %v after reordering, want %v", ids, order)
	}
	wantColumn(t, b, st[1], 1, 905000, 135750, "eur")
	wantColumn(t, b, st[0], 1, 200000, 20000, "rub")
}

// A stage's requirements hold for every deal that enters it, also the deals
// a deleted stage hands over.
func TestStageDeletionKeepsTheTargetStagesRequirements(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl) // Invoice sent (st[3]) requires an amount
	id := h.newDeal(t, admin, map[string]any{"title": "no amount", "stage_id": st[2]})
	r := h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[2]+"?move_to="+st[3], admin, nil).Want(t, 422)
	if !slices.Contains(r.FieldPaths(), "amount") {
		t.Errorf("fields %v: %s", r.FieldPaths(), r.Raw)
	}
	if d := h.do("GET", "/v1/deals/"+id, admin, nil).Want(t, 200); d.Str("stage_id") != st[2] || d.Body["version"] != 1.0 {
		t.Errorf("deal after a refused deletion: %s", d.Raw)
	}
	if p := h.do("GET", "/v1/pipelines/"+pid, admin, nil).Want(t, 200); !slices.Equal(stageIDs(p.Body), st) {
		t.Errorf("stages after a refused deletion: %v", stageIDs(p.Body))
	}
}

func TestBoardFollowsAStageDeletedWithItsDeals(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl)
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "EUR", "rate": "90.5"}).Want(t, 200)
	h.newDeal(t, admin, map[string]any{"title": "stays", "amount": 100000})
	a := h.newDeal(t, admin, map[string]any{"title": "a", "amount": 10000, "currency": "EUR", "stage_id": st[1]})
	bb := h.newDeal(t, admin, map[string]any{"title": "b", "amount": 5000, "stage_id": st[1]})
	before := h.board(t, admin, pid, "")
	wantColumn(t, before, st[0], 1, 100000, 10000, "stays")
	wantColumn(t, before, st[1], 2, 910000, 227500, "b", "a")

	// A stage holding deals is not deleted without somewhere to move them.
	r := h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[1], admin, nil).Want(t, 409)
	if !strings.HasSuffix(r.Str("type"), "/stage-has-deals") {
		t.Errorf("problem type %q", r.Str("type"))
	}
	for _, to := range []string{st[1], uuid.NewString(), stageIDs(h.pipeline(h.token(h.tenantB, auth.RoleAdmin)))[0], "nope"} {
		r := h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[1]+"?move_to="+to, admin, nil).Want(t, 422)
		if !slices.Equal(r.FieldPaths(), []string{"move_to"}) {
			t.Errorf("move_to=%s: fields %v", to, r.FieldPaths())
		}
	}
	after := h.board(t, admin, pid, "")
	if len(after.Stages) != 6 {
		t.Fatalf("refused deletions changed the board: %d stages", len(after.Stages))
	}
	wantColumn(t, after, st[1], 2, 910000, 227500, "b", "a")

	version := h.do("GET", "/v1/pipelines/"+pid, admin, nil).Want(t, 200).Body["version"].(float64)
	del := h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[1]+"?move_to="+st[0], admin, nil).Want(t, 200)
	if want := []string{st[0], st[2], st[3], st[4], st[5]}; !slices.Equal(stageIDs(del.Body), want) {
		t.Errorf("stages after deletion %v, want %v", stageIDs(del.Body), want)
	}
	if del.Body["version"] != version+1 {
		t.Errorf("pipeline version %v after a deletion from %v", del.Body["version"], version)
	}
	after = h.board(t, admin, pid, "")
	var ids []string
	for _, c := range after.Stages {
		ids = append(ids, c.ID)
	}
	if slices.Contains(ids, st[1]) || len(ids) != 5 {
		t.Fatalf("board stages %v still hold the deleted stage %s", ids, st[1])
	}
	// The moved deals arrived last, so they come first.
	c := after.column(t, st[0])
	if c.Count != 3 || c.TotalAmount != 1010000 || c.WeightedAmount != 101000 || len(c.Deals) != 3 || c.Deals[2].Title != "stays" {
		t.Errorf("target stage: count %d, total %d, weighted %d, deals %q", c.Count, c.TotalAmount, c.WeightedAmount, c.titles())
	}
	for _, id := range []string{a, bb} {
		d := h.do("GET", "/v1/deals/"+id, admin, nil).Want(t, 200)
		if d.Str("stage_id") != st[0] || d.Str("status") != "open" || d.Body["version"] != 2.0 || d.Body["probability"] != 10.0 {
			t.Errorf("moved deal %s", d.Raw)
		}
		moves := h.do("GET", "/v1/deals/"+id+"/moves", admin, nil).Want(t, 200).Body["items"].([]any)
		last := moves[len(moves)-1].(map[string]any)
		if len(moves) != 2 || last["from_stage_id"] != st[1] || last["to_stage_id"] != st[0] || last["actor_id"] != "admin-user" {
			t.Errorf("moves of a moved deal %v", moves)
		}
	}
	// The sums stay right for what happens next to the moved deals.
	h.do("DELETE", "/v1/deals/"+a, admin, nil).Want(t, 204)
	wantColumn(t, h.board(t, admin, pid, ""), st[0], 2, 105000, 10500, "b", "stays")
	if n := h.do("GET", "/v1/deals?stage_id="+st[1], admin, nil).Want(t, 200).Body["items"].([]any); len(n) != 0 {
		t.Errorf("%d deals left in the deleted stage", len(n))
	}
}

func TestBoardAndListShowEachReaderTheirDeals(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	alice := h.userToken(h.tenantA, "alice", auth.RoleRep, "team-1")
	bob := h.userToken(h.tenantA, "bob", auth.RoleRep, "team-1")
	carol := h.userToken(h.tenantA, "carol", auth.RoleRep, "team-2")
	manager := h.userToken(h.tenantA, "mona", auth.RoleManager, "team-1")
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl)
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "EUR", "rate": "90.5"}).Want(t, 200)

	a1 := h.newDeal(t, alice, map[string]any{"title": "a1", "amount": 1000})
	a2 := h.newDeal(t, alice, map[string]any{"title": "a2", "amount": 10000, "currency": "EUR", "stage_id": st[1]})
	b1 := h.newDeal(t, bob, map[string]any{"title": "b1", "amount": 3000})
	c1 := h.newDeal(t, carol, map[string]any{"title": "c1", "amount": 5000})

	for _, tc := range []struct {
		name         string
		tok          string
		count0       int64
		total0       int64
		titles0      []string
		count1       int64
		total1       int64
		list, hidden []string
	}{
		{"rep sees own", alice, 1, 1000, []string{"a1"}, 1, 905000, []string{a1, a2}, []string{b1, c1}},
		{"another rep sees own", bob, 1, 3000, []string{"b1"}, 0, 0, []string{b1}, []string{a1, a2, c1}},
		{"rep of another team sees own", carol, 1, 5000, []string{"c1"}, 0, 0, []string{c1}, []string{a1, a2, b1}},
		{"manager sees the team's", manager, 2, 4000, []string{"b1", "a1"}, 1, 905000, []string{a1, a2, b1}, []string{c1}},
		{"admin sees all", admin, 3, 9000, []string{"c1", "b1", "a1"}, 1, 905000, []string{a1, a2, b1, c1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := h.board(t, tc.tok, pid, "")
			wantColumn(t, b, st[0], tc.count0, tc.total0, (tc.total0+5)/10, tc.titles0...)
			c := b.column(t, st[1])
			if c.Count != tc.count1 || c.TotalAmount != tc.total1 {
				t.Errorf("stage 2: count %d, total %d; want %d, %d", c.Count, c.TotalAmount, tc.count1, tc.total1)
			}
			var listed []string
			for _, d := range h.do("GET", "/v1/deals", tc.tok, nil).Want(t, 200).Body["items"].([]any) {
				listed = append(listed, d.(map[string]any)["id"].(string))
			}
			if !slices.Equal(listed, tc.list) {
				t.Errorf("listed %v, want %v", listed, tc.list)
			}
			// Someone else's deal is no deal at all, for reading and writing.
			for _, id := range tc.hidden {
				h.do("GET", "/v1/deals/"+id, tc.tok, nil).Want(t, 404)
				h.do("GET", "/v1/deals/"+id+"/moves", tc.tok, nil).Want(t, 404)
				h.do("PATCH", "/v1/deals/"+id, tc.tok, map[string]any{"title": "mine"}).Want(t, 404)
				h.do("POST", "/v1/deals/"+id+"/move", tc.tok, map[string]any{"stage_id": st[2]}).Want(t, 404)
				h.do("POST", "/v1/deals/"+id+"/win", tc.tok, nil).Want(t, 404)
				h.do("DELETE", "/v1/deals/"+id, tc.tok, nil).Want(t, 404)
			}
			for _, id := range tc.list {
				h.do("GET", "/v1/deals/"+id, tc.tok, nil).Want(t, 200)
			}
		})
	}
	// Nothing the hidden-deal requests tried stuck.
	for _, id := range []string{a1, a2, b1, c1} {
		d := h.do("GET", "/v1/deals/"+id, admin, nil).Want(t, 200)
		if d.Body["version"] != 1.0 || d.Str("title") == "mine" || d.Str("status") != "open" {
			t.Errorf("deal changed by someone who cannot see it: %s", d.Raw)
		}
	}
}

// A stage's kind is its deals' status, also for the deals a deleted stage
// hands over: lost deals moved to an open stage are open again, without
// their loss; open deals moved to a won stage are won.
// A deleted stage hands its deals only to a stage of the same kind: a
// deal's status is its stage's kind, and nobody wins, loses or reopens a
// deal by deleting a column.
func TestStageDeletionKeepsMovedDealsStatus(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl) // New, Qualified, Proposal, Invoice sent, Won, Lost
	reason := h.do("GET", "/v1/loss-reasons", admin, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)["id"]
	lost := h.newDeal(t, admin, map[string]any{"title": "lost", "amount": 700})
	h.do("POST", "/v1/deals/"+lost+"/lose", admin, map[string]any{"reason_id": reason, "comment": "price"}).Want(t, 200)
	open := h.newDeal(t, admin, map[string]any{"title": "open", "amount": 300, "stage_id": st[2]})
	lostToo := h.do("POST", "/v1/pipelines/"+pid+"/stages", admin, map[string]any{"name": "Lost too", "kind": "lost"}).Want(t, 201).
		Body["stage"].(map[string]any)["id"].(string)

	// Across kinds: refused, nothing moves.
	for _, c := range [][2]string{{st[5], st[0]}, {st[2], st[4]}} {
		r := h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+c[0]+"?move_to="+c[1], admin, nil).Want(t, 422)
		if !slices.Equal(r.FieldPaths(), []string{"move_to"}) {
			t.Errorf("fields %v", r.FieldPaths())
		}
	}
	if d := h.do("GET", "/v1/deals/"+open, admin, nil).Want(t, 200); d.Str("stage_id") != st[2] || d.Str("status") != "open" || d.Body["version"] != 1.0 {
		t.Errorf("open deal touched by a refused delete: %s", d.Raw)
	}
	// Within a kind: the lost deal stays lost, for its reason.
	h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[5]+"?move_to="+lostToo, admin, nil).Want(t, 200)
	d := h.do("GET", "/v1/deals/"+lost, admin, nil).Want(t, 200)
	if d.Str("stage_id") != lostToo || d.Str("status") != "lost" || d.Body["closed_at"] == nil || d.Body["loss_reason_id"] != reason || d.Str("loss_comment") != "price" {
		t.Errorf("lost deal moved to another lost stage: %s", d.Raw)
	}
	b := h.board(t, admin, pid, "")
	wantColumn(t, b, lostToo, 1, 700, 0, "lost")
	wantColumn(t, b, st[2], 1, 300, 150, "open")
}

func TestBoardShowsTwentyDealsPerStageByDefault(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	pl := h.pipeline(rep)
	var titles []string
	for i := range 21 {
		title := "deal " + strconv.Itoa(i)
		h.newDeal(t, rep, map[string]any{"title": title, "amount": 100})
		titles = append([]string{title}, titles...)
	}
	// The rep reads the sums over their own deals, not the kept totals.
	wantColumn(t, h.board(t, rep, pl["id"].(string), ""), stageIDs(pl)[0], 21, 2100, 210, titles[:20]...)
	wantColumn(t, h.board(t, h.token(h.tenantB, auth.RoleAdmin), pl["id"].(string), ""), stageIDs(pl)[0], 21, 2100, 210, titles[:20]...)
}

// Amounts are int64 minor units; the weighted sum must not overflow on the
// way (amount × probability) when the result itself fits.
func TestBoardWeighsLargeAmountsExactly(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl) // Proposal: 50 %
	const amount = 200_000_000_000_000_000     // 2·10¹⁷ minor units; × 50 exceeds int64
	r := h.do("POST", "/v1/deals", admin, map[string]any{"title": "huge", "amount": int64(amount), "stage_id": st[2]})
	if r.Status == 422 {
		r.Want(t, 422) // refusing such an amount is fine too
		return
	}
	r.Want(t, 201)
	wantColumn(t, h.board(t, admin, pid, ""), st[2], 1, amount, amount/2, "huge")
}
