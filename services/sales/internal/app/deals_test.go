package app_test

import (
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

func TestADealMovesThroughThePipelineAndKeepsItsHistory(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	pl := h.pipeline(rep)
	st := stageIDs(pl) // New, Qualified, Proposal, Invoice sent, Won, Lost
	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "Fleet renewal", "tags": []string{"Fleet", "fleet"}}).want(t, 201)
	id := d.str("id")
	if d.str("stage_id") != st[0] || d.str("status") != "open" || d.str("currency") != "USD" || d.str("owner_id") != "rep-user" ||
		d.body["amount"] != nil || !slices.Equal(anyStrings(d.body["tags"]), []string{"fleet"}) {
		t.Fatalf("new deal %s", d.raw)
	}
	// Into Qualified, then Invoice sent needs an amount first.
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[1]}, "If-Match", `"1"`).want(t, 200)
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[2]}, "If-Match", `"1"`).want(t, 412)
	miss := h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[3]}).want(t, 422)
	if miss.str("type") == "" || !slices.Equal(miss.fields(), []string{"amount"}) {
		t.Fatalf("missing amount: %s", miss.raw)
	}
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"amount": 150000}).want(t, 200)
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[3]}).want(t, 200)
	// An amount the stage demands cannot be cleared while the deal is there.
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"amount": nil}).want(t, 422)
	// Won and lost are reached with /win and /lose only.
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[4]}).want(t, 422)
	// Lost, for a reason.
	reasons := h.do("GET", "/v1/loss-reasons", rep, nil).want(t, 200).body["items"].([]any)
	reason := reasons[0].(map[string]any)["id"].(string)
	h.do("POST", "/v1/deals/"+id+"/lose", rep, map[string]any{}).want(t, 422)
	lost := h.do("POST", "/v1/deals/"+id+"/lose", rep, map[string]any{"reason_id": reason, "comment": "went with a rival"}).want(t, 200)
	if lost.str("status") != "lost" || lost.str("stage_id") != st[5] || lost.str("loss_reason_id") != reason || lost.body["closed_at"] == nil {
		t.Fatalf("lost deal %s", lost.raw)
	}
	// A lost deal cannot be won or moved, only reopened — into the stage it left.
	if r := h.do("POST", "/v1/deals/"+id+"/win", rep, nil).want(t, 409); r.body["deal_status"] != "lost" {
		t.Errorf("win a lost deal: %s", r.raw)
	}
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[1]}).want(t, 409)
	re := h.do("POST", "/v1/deals/"+id+"/reopen", rep, nil).want(t, 200)
	if re.str("status") != "open" || re.str("stage_id") != st[3] || re.body["loss_reason_id"] != nil || re.body["closed_at"] != nil {
		t.Fatalf("reopened %s", re.raw)
	}
	won := h.do("POST", "/v1/deals/"+id+"/win", rep, nil).want(t, 200)
	if won.str("status") != "won" || won.str("stage_id") != st[4] {
		t.Fatalf("won %s", won.raw)
	}
	// Every move is kept with who and when; time per stage is shown.
	moves := h.do("GET", "/v1/deals/"+id+"/moves", rep, nil).want(t, 200).body["items"].([]any)
	var to []string
	for _, m := range moves {
		mm := m.(map[string]any)
		if mm["actor_id"] != "rep-user" || mm["moved_at"] == nil {
			t.Errorf("move %v", mm)
		}
		to = append(to, mm["to_stage_id"].(string))
	}
	if want := []string{st[0], st[1], st[3], st[5], st[3], st[4]}; !slices.Equal(to, want) {
		t.Errorf("moves to %v, want %v", to, want)
	}
	got := h.do("GET", "/v1/deals/"+id, rep, nil).want(t, 200)
	var times []string
	for _, x := range got.body["stage_times"].([]any) {
		times = append(times, x.(map[string]any)["stage_id"].(string))
	}
	if want := []string{st[0], st[1], st[3], st[5], st[4]}; !slices.Equal(times, want) {
		t.Errorf("stage times for %v, want %v", times, want)
	}
	if got.body["probability"] != 100.0 {
		t.Errorf("won probability %v", got.body["probability"])
	}
}

func TestDealInputIsChecked(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	other := h.pipeline(h.token(h.tenantA, auth.RoleAdmin))
	bad := h.do("POST", "/v1/deals", rep, map[string]any{"title": "", "amount": -5, "currency": "XYZ", "expected_close_date": "31.12.2026",
		"contact_id": "nope", "tags": []string{""}}).want(t, 422)
	for _, f := range []string{"title", "amount", "currency", "expected_close_date", "contact_id", "tags/0"} {
		if !slices.Contains(bad.fields(), f) {
			t.Errorf("no error on %s: %s", f, bad.raw)
		}
	}
	// Another tenant's pipeline is no pipeline; nor is a stage of another pipeline.
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "pipeline_id": other["id"]}).want(t, 422)
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "stage_id": stageIDs(other)[0]}).want(t, 422)
	// A currency without a rate is refused until one is set.
	r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "amount": 100, "currency": "eur"}).want(t, 422)
	if r.str("type") == "" || !slices.Contains(r.fields(), "currency") {
		t.Errorf("no rate: %s", r.raw)
	}
	if n := h.countRows(h.tenantB, "deals"); n != 0 {
		t.Errorf("%d deals stored by refused requests", n)
	}
	// Rates: only admins and managers; positive decimals; not the base currency.
	h.do("POST", "/v1/currency-rates", rep, map[string]any{"currency": "EUR", "rate": "1.08"}).want(t, 403)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	for _, body := range []map[string]any{{"currency": "EUR", "rate": "-1"}, {"currency": "EUR", "rate": "abc"}, {"currency": "USD", "rate": "1"}, {"currency": "EURO", "rate": "1"}} {
		h.do("POST", "/v1/currency-rates", admin, body).want(t, 422)
	}
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "eur", "rate": "1.08"}).want(t, 200)
	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "amount": 100, "currency": "EUR"}).want(t, 201)
	if d.str("currency") != "EUR" {
		t.Errorf("currency %s", d.raw)
	}
	// PATCH does not move a deal.
	h.do("PATCH", "/v1/deals/"+d.str("id"), rep, map[string]any{"stage_id": stageIDs(h.pipeline(rep))[1]}).want(t, 422)
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
