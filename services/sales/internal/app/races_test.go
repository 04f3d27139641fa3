package app_test

import (
	"sync"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// Deals moving into a stage while an admin deletes it (moving its deals on)
// or changes its kind: whatever order the database picks, no deal is left
// in a deleted stage or open in a won one, and the board adds up.
func TestStageChangesAndDealMovesDoNotInterleave(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl) // New, Qualified, Proposal, Invoice sent, Won, Lost
	const n = 20

	deals := make([]string, n)
	for i := range deals {
		deals[i] = h.newDeal(t, admin, map[string]any{"title": "race", "amount": 100})
	}
	var wg sync.WaitGroup
	for _, id := range deals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.do("POST", "/v1/deals/"+id+"/move", admin, map[string]any{"stage_id": st[1]})
			if r.Status != 200 && r.Status != 422 { // 422: the stage was gone by then
				t.Errorf("move: %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[1]+"?move_to="+st[2], admin, nil).Want(t, 200)
	}()
	wg.Wait()
	if n := h.query(h.tenantB, "select count(*) from deals where stage_id = $1", st[1]); n != 0 {
		t.Errorf("%d deals left in the deleted stage", n)
	}
	if n := h.query(h.tenantB, "select count(*) from stage_sums where stage_id = $1 and deals <> 0", st[1]); n != 0 {
		t.Errorf("%d sums rows left for the deleted stage", n)
	}
	var count int64
	for _, c := range h.board(t, admin, pid, "").Stages {
		count += c.Count
	}
	if count != n {
		t.Errorf("the board counts %d deals, want %d", count, n)
	}

	// Now moves into Proposal against turning it into a won stage.
	for _, id := range deals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.do("POST", "/v1/deals/"+id+"/move", admin, map[string]any{"stage_id": st[3]}) // out, then …
			h.do("POST", "/v1/deals/"+id+"/move", admin, map[string]any{"stage_id": st[2]}) // … back in
		}()
	}
	var kindChanged bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := h.do("PATCH", "/v1/pipelines/"+pid+"/stages/"+st[2], admin, map[string]any{"kind": "won"})
		kindChanged = r.Status == 200
	}()
	wg.Wait()
	if n := h.query(h.tenantB, "select count(*) from deals d join stages s on s.tenant_id = d.tenant_id and s.id = d.stage_id where d.Status <> s.kind"); n != 0 {
		t.Errorf("%d deals whose status is not their stage's kind (kind changed: %v)", n, kindChanged)
	}
}
