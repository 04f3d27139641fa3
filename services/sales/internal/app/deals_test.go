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
	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "Fleet renewal", "tags": []string{"Fleet", "fleet"}}).Want(t, 201)
	id := d.Str("id")
	if d.Str("stage_id") != st[0] || d.Str("status") != "open" || d.Str("currency") != "USD" || d.Str("owner_id") != "rep-user" ||
		d.Body["amount"] != nil || !slices.Equal(anyStrings(d.Body["tags"]), []string{"fleet"}) {
		t.Fatalf("new deal %s", d.Raw)
	}
	// Into Qualified, then Invoice sent needs an amount first.
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[1]}, "If-Match", `"1"`).Want(t, 200)
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[2]}, "If-Match", `"1"`).Want(t, 412)
	miss := h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[3]}).Want(t, 422)
	if miss.Str("type") == "" || !slices.Equal(miss.FieldPaths(), []string{"amount"}) {
		t.Fatalf("missing amount: %s", miss.Raw)
	}
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"amount": 150000}).Want(t, 200)
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[3]}).Want(t, 200)
	// An amount the stage demands cannot be cleared while the deal is there.
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"amount": nil}).Want(t, 422)
	// Won and lost are reached with /win and /lose only.
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[4]}).Want(t, 422)
	// Lost, for a reason.
	reasons := h.do("GET", "/v1/loss-reasons", rep, nil).Want(t, 200).Body["items"].([]any)
	reason := reasons[0].(map[string]any)["id"].(string)
	h.do("POST", "/v1/deals/"+id+"/lose", rep, map[string]any{}).Want(t, 422)
	lost := h.do("POST", "/v1/deals/"+id+"/lose", rep, map[string]any{"reason_id": reason, "comment": "went with a rival"}).Want(t, 200)
	if lost.Str("status") != "lost" || lost.Str("stage_id") != st[5] || lost.Str("loss_reason_id") != reason || lost.Body["closed_at"] == nil {
		t.Fatalf("lost deal %s", lost.Raw)
	}
	// A lost deal cannot be won or moved, only reopened — into the stage it left.
	if r := h.do("POST", "/v1/deals/"+id+"/win", rep, nil).Want(t, 409); r.Body["deal_status"] != "lost" {
		t.Errorf("win a lost deal: %s", r.Raw)
	}
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[1]}).Want(t, 409)
	re := h.do("POST", "/v1/deals/"+id+"/reopen", rep, nil).Want(t, 200)
	if re.Str("status") != "open" || re.Str("stage_id") != st[3] || re.Body["loss_reason_id"] != nil || re.Body["closed_at"] != nil {
		t.Fatalf("reopened %s", re.Raw)
	}
	won := h.do("POST", "/v1/deals/"+id+"/win", rep, nil).Want(t, 200)
	if won.Str("status") != "won" || won.Str("stage_id") != st[4] {
		t.Fatalf("won %s", won.Raw)
	}
	// Every move is kept with who and when; time per stage is shown.
	moves := h.do("GET", "/v1/deals/"+id+"/moves", rep, nil).Want(t, 200).Body["items"].([]any)
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
	got := h.do("GET", "/v1/deals/"+id, rep, nil).Want(t, 200)
	var times []string
	for _, x := range got.Body["stage_times"].([]any) {
		times = append(times, x.(map[string]any)["stage_id"].(string))
	}
	if want := []string{st[0], st[1], st[3], st[5], st[4]}; !slices.Equal(times, want) {
		t.Errorf("stage times for %v, want %v", times, want)
	}
	if got.Body["probability"] != 100.0 {
		t.Errorf("won probability %v", got.Body["probability"])
	}
}

func TestDealInputIsChecked(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	other := h.pipeline(h.token(h.tenantA, auth.RoleAdmin))
	bad := h.do("POST", "/v1/deals", rep, map[string]any{"title": "", "amount": -5, "currency": "XYZ", "expected_close_date": "31.12.2026",
		"contact_id": "nope", "tags": []string{""}}).Want(t, 422)
	for _, f := range []string{"title", "amount", "currency", "expected_close_date", "contact_id", "tags/0"} {
		if !slices.Contains(bad.FieldPaths(), f) {
			t.Errorf("no error on %s: %s", f, bad.Raw)
		}
	}
	// Another tenant's pipeline is no pipeline; nor is a stage of another pipeline.
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "pipeline_id": other["id"]}).Want(t, 422)
	h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "stage_id": stageIDs(other)[0]}).Want(t, 422)
	// A currency without a rate is refused until one is set.
	r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "amount": 100, "currency": "eur"}).Want(t, 422)
	if r.Str("type") == "" || !slices.Contains(r.FieldPaths(), "currency") {
		t.Errorf("no rate: %s", r.Raw)
	}
	if n := h.countRows(h.tenantB, "deals"); n != 0 {
		t.Errorf("%d deals stored by refused requests", n)
	}
	// Rates: only admins and managers; positive decimals; not the base currency.
	h.do("POST", "/v1/currency-rates", rep, map[string]any{"currency": "EUR", "rate": "1.08"}).Want(t, 403)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	for _, body := range []map[string]any{{"currency": "EUR", "rate": "-1"}, {"currency": "EUR", "rate": "abc"}, {"currency": "USD", "rate": "1"}, {"currency": "EURO", "rate": "1"}} {
		h.do("POST", "/v1/currency-rates", admin, body).Want(t, 422)
	}
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "eur", "rate": "1.08"}).Want(t, 200)
	d := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "amount": 100, "currency": "EUR"}).Want(t, 201)
	if d.Str("currency") != "EUR" {
		t.Errorf("currency %s", d.Raw)
	}
	// PATCH does not move a deal.
	h.do("PATCH", "/v1/deals/"+d.Str("id"), rep, map[string]any{"stage_id": stageIDs(h.pipeline(rep))[1]}).Want(t, 422)
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
