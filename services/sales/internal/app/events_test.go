package app_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	salesv1 "github.com/rapportcrm/rapport/pkg/gen/crm/sales/v1"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// eventsAbout reads the sales topic from its start until it holds n events
// about subject, and returns them in the order they were published (one
// subject's events share a key, hence a partition). Redeliveries of one
// event count once.
func (h *harness) eventsAbout(t *testing.T, subject string, n int) []events.Event {
	t.Helper()
	return testenv.EventsAbout(t, h.brokers, service.Topic, subject, n)
}

func typesOf(evs []events.Event) []string { return testenv.EventTypes(evs) }

func sameTime(t *testing.T, what string, have *timestamppb.Timestamp, want any) {
	t.Helper()
	s, _ := want.(string)
	w, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("%s: API time %v: %v", what, want, err)
		return
	}
	if have == nil || !have.AsTime().Equal(w) {
		t.Errorf("%s: event has %v, API %v", what, have.AsTime(), w)
	}
}

func TestADealsLifePublishesItsEventsInOrder(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	rep := h.token(h.tenantA, auth.RoleRep)
	pl := h.pipeline(admin)
	st := stageIDs(pl) // 10, 25, 50, 80, won 100, lost 0
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "EUR", "rate": "90.5"}).Want(t, 200)
	contact, company := h.knownParty(t, h.tenantA, "contact"), h.knownParty(t, h.tenantA, "company")
	reason := h.do("GET", "/v1/loss-reasons", rep, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)

	created := h.do("POST", "/v1/deals", admin, map[string]any{"title": "Поставка", "amount": 10000, "currency": "EUR",
		"contact_id": contact, "company_id": company, "owner_id": "rep-user", "team": "team-1", "tags": []string{"Опт"},
		"expected_close_date": "2026-09-30", "source": "выставка"}).Want(t, 201)
	id := created.Str("id")
	updated := h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"title": "Поставка II", "amount": 20000}).Want(t, 200)
	moved := h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[1]}).Want(t, 200)
	won := h.do("POST", "/v1/deals/"+id+"/win", rep, nil).Want(t, 200)
	reopened := h.do("POST", "/v1/deals/"+id+"/reopen", rep, nil).Want(t, 200)
	lost := h.do("POST", "/v1/deals/"+id+"/lose", rep, map[string]any{"reason_id": reason["id"], "comment": "дорого"}).Want(t, 200)
	reopened2 := h.do("POST", "/v1/deals/"+id+"/reopen", rep, map[string]any{"stage_id": st[2]}).Want(t, 200)
	h.do("DELETE", "/v1/deals/"+id, rep, nil).Want(t, 204)

	evs := h.eventsAbout(t, id, 8)
	want := []string{service.TypeDealCreated, service.TypeDealUpdated, service.TypeDealStageChanged, service.TypeDealWon,
		service.TypeDealReopened, service.TypeDealLost, service.TypeDealReopened, service.TypeDealDeleted}
	if !slices.Equal(typesOf(evs), want) {
		t.Fatalf("event types %v, want %v", typesOf(evs), want)
	}
	for i, e := range evs {
		if string(e.Key) != id || e.TenantID != h.tenantA || e.Source != service.Source || e.Topic != service.Topic {
			t.Errorf("event %d (%s): key %q, tenant %s, source %q, topic %q", i, e.Type, e.Key, e.TenantID, e.Source, e.Topic)
		}
		if e.Extensions[events.ExtContactID] != contact {
			t.Errorf("event %d (%s): %s = %q, want the deal's contact %s", i, e.Type, events.ExtContactID, e.Extensions[events.ExtContactID], contact)
		}
	}

	// checkDeal compares an event's deal with the API's answer.
	checkDeal := func(what string, d *salesv1.Deal, api reply, amount, amountBase int64, probability int32) {
		t.Helper()
		if d.GetId() != id || d.GetTenantId() != h.tenantA.String() || d.GetTitle() != api.Str("title") ||
			d.GetPipelineId() != api.Str("pipeline_id") || d.GetStageId() != api.Str("stage_id") || d.GetStatus() != api.Str("status") ||
			d.GetVersion() != int64(api.Body["version"].(float64)) {
			t.Errorf("%s: deal %v, API %s", what, d, api.Raw)
		}
		if !d.GetHasAmount() || d.GetAmount() != amount || d.GetCurrency() != "EUR" || d.GetAmountBase() != amountBase || d.GetBaseCurrency() != "RUB" {
			t.Errorf("%s: amount %d %s (has %v) = %d %s, want %d EUR = %d RUB", what, d.GetAmount(), d.GetCurrency(), d.GetHasAmount(),
				d.GetAmountBase(), d.GetBaseCurrency(), amount, amountBase)
		}
		if d.GetOwnerId() != "rep-user" || d.GetContactId() != contact || d.GetCompanyId() != company || d.GetTeam() != "team-1" ||
			d.GetExpectedCloseDate() != "2026-09-30" || d.GetSource() != "выставка" || !slices.Equal(d.GetTags(), []string{"опт"}) {
			t.Errorf("%s: owner %q contact %q company %q team %q close %q source %q tags %v", what, d.GetOwnerId(), d.GetContactId(),
				d.GetCompanyId(), d.GetTeam(), d.GetExpectedCloseDate(), d.GetSource(), d.GetTags())
		}
		if d.GetProbability() != probability {
			t.Errorf("%s: probability %d, want %d", what, d.GetProbability(), probability)
		}
		sameTime(t, what+" created_at", d.GetCreatedAt(), created.Body["created_at"])
		sameTime(t, what+" updated_at", d.GetUpdatedAt(), api.Body["updated_at"])
		sameTime(t, what+" stage_entered_at", d.GetStageEnteredAt(), api.Body["stage_entered_at"])
		if api.Body["closed_at"] == nil {
			if d.GetClosedAt() != nil {
				t.Errorf("%s: closed_at %v on an open deal", what, d.GetClosedAt().AsTime())
			}
		} else {
			sameTime(t, what+" closed_at", d.GetClosedAt(), api.Body["closed_at"])
		}
	}
	// checkChange compares an event's stage change with the API's answers
	// before (the stage left) and after the move.
	checkChange := func(what string, c *salesv1.StageChange, before, api reply, kind string, prob int32) {
		t.Helper()
		if c.GetPreviousStageId() != before.Str("stage_id") || c.GetPreviousStageKind() != kind || c.GetPreviousProbability() != prob {
			t.Errorf("%s: change %v, want from %s (%s, %d %%)", what, c, before.Str("stage_id"), kind, prob)
		}
		sameTime(t, what+" moved_at", c.GetMovedAt(), api.Body["stage_entered_at"])
		entered, err1 := time.Parse(time.RFC3339Nano, before.Str("stage_entered_at"))
		left, err2 := time.Parse(time.RFC3339Nano, api.Str("stage_entered_at"))
		if want := int64(left.Sub(entered) / time.Second); err1 != nil || err2 != nil || c.GetSecondsInPreviousStage() != want {
			t.Errorf("%s: %d seconds in the previous stage, want %d (%v, %v)", what, c.GetSecondsInPreviousStage(), want, err1, err2)
		}
	}

	var c salesv1.DealCreated
	mustUnmarshal(t, evs[0], &c)
	checkDeal("created", c.GetDeal(), created, 10000, 905000, 10)
	if c.GetActorId() != "admin-user" || c.GetDeal().GetStageId() != st[0] || c.GetDeal().GetVersion() != 1 {
		t.Errorf("created: actor %q stage %s version %d", c.GetActorId(), c.GetDeal().GetStageId(), c.GetDeal().GetVersion())
	}

	var u salesv1.DealUpdated
	mustUnmarshal(t, evs[1], &u)
	checkDeal("updated", u.GetDeal(), updated, 20000, 1810000, 10)
	if u.GetActorId() != "rep-user" || u.GetDeal().GetTitle() != "Поставка II" {
		t.Errorf("updated: actor %q title %q", u.GetActorId(), u.GetDeal().GetTitle())
	}
	if changed := slices.Sorted(slices.Values(u.GetChangedFields())); !slices.Equal(changed, []string{"amount", "title"}) {
		t.Errorf("updated: changed_fields %q, want title and amount", u.GetChangedFields())
	}

	var sc salesv1.DealStageChanged
	mustUnmarshal(t, evs[2], &sc)
	checkDeal("stage_changed", sc.GetDeal(), moved, 20000, 1810000, 25)
	checkChange("stage_changed", sc.GetChange(), updated, moved, "open", 10)
	if sc.GetActorId() != "rep-user" || sc.GetDeal().GetStageId() != st[1] {
		t.Errorf("stage_changed: actor %q, stage %s", sc.GetActorId(), sc.GetDeal().GetStageId())
	}

	var w salesv1.DealWon
	mustUnmarshal(t, evs[3], &w)
	checkDeal("won", w.GetDeal(), won, 20000, 1810000, 100)
	checkChange("won", w.GetChange(), moved, won, "open", 25)
	if w.GetDeal().GetStatus() != "won" || w.GetDeal().GetStageId() != st[4] || w.GetDeal().GetClosedAt() == nil {
		t.Errorf("won: %v", w.GetDeal())
	}

	var ro salesv1.DealReopened
	mustUnmarshal(t, evs[4], &ro)
	checkDeal("reopened", ro.GetDeal(), reopened, 20000, 1810000, 25)
	checkChange("reopened", ro.GetChange(), won, reopened, "won", 100)
	if ro.GetDeal().GetStageId() != st[1] || ro.GetDeal().GetClosedAt() != nil {
		t.Errorf("reopened: %v", ro.GetDeal())
	}

	var l salesv1.DealLost
	mustUnmarshal(t, evs[5], &l)
	checkDeal("lost", l.GetDeal(), lost, 20000, 1810000, 0)
	checkChange("lost", l.GetChange(), reopened, lost, "open", 25)
	if l.GetReason() != reason["name"] || l.GetDeal().GetLossReasonId() != reason["id"] || l.GetDeal().GetLossComment() != "дорого" ||
		l.GetDeal().GetStageId() != st[5] {
		t.Errorf("lost: reason %q, deal %v", l.GetReason(), l.GetDeal())
	}

	var ro2 salesv1.DealReopened
	mustUnmarshal(t, evs[6], &ro2)
	checkDeal("reopened again", ro2.GetDeal(), reopened2, 20000, 1810000, 50)
	checkChange("reopened again", ro2.GetChange(), lost, reopened2, "lost", 0)
	if ro2.GetDeal().GetLossReasonId() != "" || ro2.GetDeal().GetLossComment() != "" {
		t.Errorf("reopened deal keeps its loss: %v", ro2.GetDeal())
	}

	var del salesv1.DealDeleted
	mustUnmarshal(t, evs[7], &del)
	if del.GetActorId() != "rep-user" || del.GetDeal().GetId() != id || del.GetDeal().GetVersion() != 7 ||
		del.GetDeal().GetStageId() != st[2] || del.GetDeletedAt() == nil || del.GetDeal().GetAmountBase() != 1810000 {
		t.Errorf("deleted: %v", &del)
	}
}

func TestDealEventsNameTheirContactOnlyWhenTheyHaveOne(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	id := h.do("POST", "/v1/deals", rep, map[string]any{"title": "Fleet", "amount": 150000}).Want(t, 201).Str("id")
	contact := h.knownParty(t, h.tenantB, "contact")
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"contact_id": contact}).Want(t, 200)
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"contact_id": nil}).Want(t, 200)
	evs := h.eventsAbout(t, id, 3)
	var have []string
	for _, e := range evs {
		v, ok := e.Extensions[events.ExtContactID]
		if !ok {
			v = "-"
		}
		have = append(have, v)
	}
	if want := []string{"-", contact, "-"}; !slices.Equal(have, want) {
		t.Errorf("%s per event %v, want %v", events.ExtContactID, have, want)
	}
	var c salesv1.DealCreated
	mustUnmarshal(t, evs[0], &c)
	// In the base currency, the amount is its own base amount.
	if d := c.GetDeal(); d.GetAmount() != 150000 || d.GetAmountBase() != 150000 || d.GetCurrency() != "USD" || d.GetBaseCurrency() != "USD" ||
		d.GetContactId() != "" {
		t.Errorf("created %v", d)
	}
}

func TestPipelineChangesArePublished(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	manager := h.token(h.tenantB, auth.RoleManager)
	p := h.do("POST", "/v1/pipelines", admin, map[string]any{"name": "Partners", "stages": []any{
		map[string]any{"name": "Lead", "probability": 5},
		map[string]any{"name": "Demo", "probability": 40},
		map[string]any{"name": "Signed", "kind": "won"},
	}}).Want(t, 201)
	pid := p.Str("id")
	st := stageIDs(p.Body)
	h.do("PATCH", "/v1/pipelines/"+pid, admin, map[string]any{"name": "Partner deals"}).Want(t, 200)
	added := h.do("POST", "/v1/pipelines/"+pid+"/stages", manager, map[string]any{"name": "Trial", "probability": 60, "position": 2}).Want(t, 201)
	trial := added.Body["stage"].(map[string]any)["id"].(string)
	h.do("PATCH", "/v1/pipelines/"+pid+"/stages/"+st[1], admin, map[string]any{"probability": 45, "color": "#112233"}).Want(t, 200)
	h.do("PUT", "/v1/pipelines/"+pid+"/stages/order", admin, map[string]any{"stage_ids": []string{st[0], trial, st[1], st[2]}}).Want(t, 200)
	deal := h.do("POST", "/v1/deals", admin, map[string]any{"title": "Reseller", "pipeline_id": pid}).Want(t, 201).Str("id")
	h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[0]+"?move_to="+st[1], admin, nil).Want(t, 200)
	h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+trial, admin, nil).Want(t, 200)
	// Refused changes publish nothing.
	h.do("DELETE", "/v1/pipelines/"+pid, admin, nil).Want(t, 409)
	h.do("PATCH", "/v1/pipelines/"+pid, admin, map[string]any{"name": ""}).Want(t, 422)
	h.do("DELETE", "/v1/deals/"+deal, admin, nil).Want(t, 204)
	h.do("DELETE", "/v1/pipelines/"+pid, admin, nil).Want(t, 204)

	evs := h.eventsAbout(t, pid, 8)
	for i, e := range evs {
		if e.Type != service.TypePipelineChanged || string(e.Key) != pid || e.TenantID != h.tenantB || len(e.Extensions) != 0 {
			t.Fatalf("event %d: %s key %q tenant %s extensions %v", i, e.Type, e.Key, e.TenantID, e.Extensions)
		}
	}
	m := make([]*salesv1.PipelineChanged, len(evs))
	for i := range m {
		m[i] = &salesv1.PipelineChanged{}
		mustUnmarshal(t, evs[i], m[i])
		actor := "admin-user"
		if i == 2 {
			actor = "manager-user"
		}
		if m[i].GetActorId() != actor || m[i].GetPipeline().GetId() != pid || m[i].GetPipeline().GetTenantId() != h.tenantB.String() {
			t.Errorf("event %d: %v", i, m[i])
		}
		// Each change is the next version; the deletion reports the last one.
		if want := min(int64(i+1), 7); m[i].GetPipeline().GetVersion() != want {
			t.Errorf("event %d: version %d, want %d", i, m[i].GetPipeline().GetVersion(), want)
		}
		if m[i].GetDeleted() != (i == 7) {
			t.Errorf("event %d: deleted %v", i, m[i].GetDeleted())
		}
		if len(m[i].GetMovedDeals()) != 0 && i != 5 {
			t.Errorf("event %d: moved deals %v", i, m[i].GetMovedDeals())
		}
	}
	stagesOf := func(pl *salesv1.Pipeline) []string {
		var out []string
		for _, s := range pl.GetStages() {
			out = append(out, s.GetId())
		}
		return out
	}
	for i, want := range [][]string{
		st, st, {st[0], st[1], trial, st[2]}, {st[0], st[1], trial, st[2]}, {st[0], trial, st[1], st[2]},
		{trial, st[1], st[2]}, {st[1], st[2]}, {st[1], st[2]},
	} {
		if have := stagesOf(m[i].GetPipeline()); !slices.Equal(have, want) {
			t.Errorf("event %d: stages %v, want %v", i, have, want)
		}
	}
	if pl := m[0].GetPipeline(); pl.GetName() != "Partners" || pl.GetStages()[1].GetProbability() != 40 || pl.GetStages()[2].GetKind() != "won" {
		t.Errorf("created: %v", m[0])
	}
	if m[1].GetPipeline().GetName() != "Partner deals" || m[7].GetPipeline().GetName() != "Partner deals" {
		t.Errorf("renamed: %v; deleted: %v", m[1], m[7])
	}
	if s := m[3].GetPipeline().GetStages()[1]; s.GetProbability() != 45 || s.GetColor() != "#112233" || s.GetName() != "Demo" {
		t.Errorf("stage changed: %v", s)
	}
	if mv := m[5].GetMovedDeals(); len(mv) != 1 || mv[st[0]] != st[1] {
		t.Errorf("stage deleted with its deals: moved %v, want %s → %s", mv, st[0], st[1])
	}
}

func mustUnmarshal(t *testing.T, e events.Event, msg proto.Message) {
	t.Helper()
	if err := e.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
}

// Deals a deleted stage hands over are moved like any others: a recorded
// move and a crm.deal.stage_changed each, from the deleted stage.
func TestDealsMovedByAStageDeletionArePublished(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	pid, st := pl["id"].(string), stageIDs(pl)
	ids := []string{h.newDeal(t, admin, map[string]any{"title": "a", "stage_id": st[1]}), h.newDeal(t, admin, map[string]any{"title": "b", "stage_id": st[1]})}
	h.do("DELETE", "/v1/pipelines/"+pid+"/stages/"+st[1]+"?move_to="+st[2], admin, nil).Want(t, 200)
	for _, id := range ids {
		evs := h.eventsAbout(t, id, 2)
		if got := typesOf(evs); got[1] != "crm.deal.stage_changed" {
			t.Fatalf("deal %s: events %v", id, got)
		}
		var m salesv1.DealStageChanged
		mustUnmarshal(t, evs[1], &m)
		if m.GetChange().GetPreviousStageId() != st[1] || m.GetDeal().GetStageId() != st[2] || m.GetDeal().GetVersion() != 2 || m.GetActorId() != "admin-user" {
			t.Errorf("deal %s: %v", id, &m)
		}
		moves := h.do("GET", "/v1/deals/"+id+"/moves", admin, nil).Want(t, 200).Body["items"].([]any)
		if last := moves[len(moves)-1].(map[string]any); len(moves) != 2 || last["from_stage_id"] != st[1] || last["to_stage_id"] != st[2] {
			t.Errorf("deal %s: moves %v", id, moves)
		}
	}
}
