package app_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// openTasksOf are the open tasks of a deal, as tok sees them.
func (h *peered) openTasksOf(deal, tok string) []map[string]any {
	h.T.Helper()
	var out []map[string]any
	for _, it := range h.do("GET", "/v1/tasks?status=open&deal_id="+deal, tok).Want(h.T, http.StatusOK).Body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// No deal without a next step: a new deal gets a first call for its owner
// inside working hours; its last open task cannot be closed, cancelled or
// deleted without the next one (strict), only with a warning (warn); two
// closings at once leave one of them refused.
func TestNoOpenDealIsLeftWithoutANextStep(t *testing.T) {
	h := startWithPeers(t)
	ru := h.russian(t)
	rep, admin := h.Token(ru, "anna", "rep", "t1"), h.Token(ru, "boss", "admin", "t1")
	client := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep, map[string]any{"first_name": "Олег", "timezone": "Asia/Vladivostok"}).
		Want(t, http.StatusCreated).Str("id")
	created := time.Now()
	deal := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "Траулеры", "contact_id": client}).
		Want(t, http.StatusCreated).Str("id")
	testenv.Eventually(t, "the new deal's first task", func() bool { return len(h.openTasksOf(deal, rep)) == 1 })
	first := h.openTasksOf(deal, rep)[0]
	due, _ := time.Parse(time.RFC3339, first["due_at"].(string))
	moscow, _ := time.LoadLocation("Europe/Moscow")
	vlad, _ := time.LoadLocation("Asia/Vladivostok")
	if first["subject"] != "Связаться по сделке: Траулеры" || first["kind"] != "call" || first["owner_id"] != "anna" || first["team"] != "t1" ||
		first["contact_id"] != client || due.Before(created.Add(time.Hour-time.Minute)) {
		t.Fatalf("the first task: %v", first)
	}
	if m, v := due.In(moscow), due.In(vlad); m.Hour() < 9 || m.Hour() >= 18 || m.Weekday() == time.Saturday || m.Weekday() == time.Sunday ||
		v.Hour() < 9 || v.Hour() >= 21 {
		t.Fatalf("the first task is due at %s in Moscow, %s in Vladivostok", m, v)
	}
	id := first["id"].(string)

	// Strict: the last open task does not go without a next one.
	h.do("POST", "/v1/tasks/"+id+"/complete", rep, map[string]any{"outcome": "reached"}).Want(t, http.StatusConflict)
	h.do("POST", "/v1/tasks/"+id+"/cancel", rep, nil).Want(t, http.StatusConflict)
	h.do("DELETE", "/v1/tasks/"+id, rep).Want(t, http.StatusConflict)
	r := h.do("PATCH", "/v1/tasks/"+id, rep, map[string]any{"deal_id": nil}).Want(t, http.StatusConflict)
	if r.Str("type") != "https://rapport.dev/problems/next-step-required" {
		t.Fatalf("the refusal: %s", r.Raw)
	}
	// An attempt the outcome plans is a next step; so is one given.
	next := h.do("POST", "/v1/tasks/"+id+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK).Member("next").Str("id")
	r = h.do("POST", "/v1/tasks/"+next+"/complete", rep, map[string]any{"outcome": "reached",
		"next": map[string]any{"kind": "meeting", "subject": "Встреча"}}).Want(t, http.StatusOK)
	meeting := r.Member("next")
	if meeting.Str("deal_id") != deal || len(r.Body["warnings"].([]any)) != 0 {
		t.Fatalf("the next step: %s", r.Raw)
	}

	// Two open tasks closed at once: one goes, the other is the last.
	other := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Счёт", "deal_id": deal}).Want(t, http.StatusCreated).Str("id")
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, task := range []string{meeting.Str("id"), other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = testenv.Call(t, "POST", h.url+"/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "reached"}).Status
		}()
	}
	wg.Wait()
	slices.Sort(statuses)
	if !slices.Equal(statuses, []int{http.StatusOK, http.StatusConflict}) {
		t.Fatalf("two closings at once: %v", statuses)
	}
	if n := len(h.openTasksOf(deal, rep)); n != 1 {
		t.Fatalf("the deal has %d open tasks, want 1", n)
	}

	// Warn: it goes, with a warning; off: silently.
	last := h.openTasksOf(deal, rep)[0]["id"].(string)
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"discipline": "warn"}).Want(t, http.StatusOK)
	r = h.do("POST", "/v1/tasks/"+last+"/complete", rep, map[string]any{"outcome": "reached"}).Want(t, http.StatusOK)
	if w := r.Body["warnings"].([]any); len(w) != 1 || w[0] != "next-step-missing: the deal has no open task left; plan its next step" {
		t.Fatalf("the warning: %s", r.Raw)
	}
}

// A deal won or lost has its open tasks closed; a won one gets a repeat
// sale when the tenant asks for one; a deal whose calls are exhausted, and
// which the tenant loses for it, needs no next step.
func TestClosedDealsCloseTheirTasks(t *testing.T) {
	h := startWithPeers(t)
	ru := h.russian(t)
	rep, admin := h.Token(ru, "anna", "rep", "t1"), h.Token(ru, "boss", "admin", "t1")
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"repeat_sale_days": 30, "exhausted_loses_deal": true}).Want(t, http.StatusOK)
	won := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "Выигрыш"}).Want(t, http.StatusCreated).Str("id")
	lost := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "Проигрыш"}).Want(t, http.StatusCreated).Str("id")
	for _, deal := range []string{won, lost} {
		testenv.Eventually(t, "the first task", func() bool { return len(h.openTasksOf(deal, rep)) == 1 })
		h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Ещё", "deal_id": deal}).Want(t, http.StatusCreated)
	}
	before := h.openTasksOf(won, rep)
	wonAt := time.Now()
	testenv.Call(t, "POST", h.sales+"/v1/deals/"+won+"/win", rep, map[string]any{}).Want(t, http.StatusOK)
	reasons := testenv.Call(t, "GET", h.sales+"/v1/loss-reasons", rep, nil).Want(t, http.StatusOK).Body["items"].([]any)
	testenv.Call(t, "POST", h.sales+"/v1/deals/"+lost+"/lose", rep, map[string]any{"reason_id": reasons[0].(map[string]any)["id"]}).
		Want(t, http.StatusOK)
	testenv.Eventually(t, "the won deal's tasks closed and a repeat sale planned", func() bool {
		open := h.openTasksOf(won, rep)
		return len(open) == 1 && open[0]["subject"] == "Повторная продажа: Выигрыш"
	})
	repeat := h.openTasksOf(won, rep)[0]
	if due, _ := time.Parse(time.RFC3339, repeat["due_at"].(string)); due.Before(wonAt.Add(30*24*time.Hour - time.Minute)) {
		t.Fatalf("the repeat sale is due at %s", due)
	}
	for _, task := range before {
		r := h.do("GET", "/v1/tasks/"+task["id"].(string), rep).Want(t, http.StatusOK)
		if r.Str("status") != "cancelled" || r.Str("result") != "Сделка выиграна" || r.Str("closed_by") != "anna" {
			t.Fatalf("a task of the won deal: %s", r.Raw)
		}
	}
	testenv.Eventually(t, "the lost deal's tasks closed", func() bool { return len(h.openTasksOf(lost, rep)) == 0 })

	// Exhausted calls of a deal the tenant loses for it: no next step due.
	deal := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "Недозвон"}).Want(t, http.StatusCreated).Str("id")
	testenv.Eventually(t, "the first task", func() bool { return len(h.openTasksOf(deal, rep)) == 1 })
	task := h.openTasksOf(deal, rep)[0]["id"].(string)
	for i := 0; i < 4; i++ {
		task = h.do("POST", "/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK).Member("next").Str("id")
	}
	r := h.do("POST", "/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK)
	if r.Body["attempts_exhausted"] != true {
		t.Fatalf("the fifth attempt: %s", r.Raw)
	}
	// Sales loses the deal for the tenant's "could not reach" reason.
	testenv.Eventually(t, "the unreached client's deal lost", func() bool {
		return testenv.Call(t, "GET", h.sales+"/v1/deals/"+deal, rep, nil).Want(t, http.StatusOK).Str("status") == "lost"
	})
	d := testenv.Call(t, "GET", h.sales+"/v1/deals/"+deal, rep, nil).Want(t, http.StatusOK)
	reason := testenv.Call(t, "GET", h.sales+"/v1/loss-reasons/"+d.Str("loss_reason_id"), rep, nil).Want(t, http.StatusOK)
	if reason.Str("name") != "Не удалось связаться" {
		t.Fatalf("lost for %s", reason.Raw)
	}
}

// Sales shows each deal's next step (its open task due first) on the deal
// and the board, and lists the open deals without one or with a late one.
func TestSalesShowsEachDealsNextStep(t *testing.T) {
	h := startWithPeers(t)
	ru := h.russian(t)
	rep, admin := h.Token(ru, "anna", "rep", "t1"), h.Token(ru, "boss", "admin", "t1")
	deal := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "С шагом"}).Want(t, http.StatusCreated)
	testenv.Eventually(t, "the first task", func() bool { return len(h.openTasksOf(deal.Str("id"), rep)) == 1 })
	first := h.openTasksOf(deal.Str("id"), rep)[0]
	testenv.Eventually(t, "the deal showing its next task", func() bool {
		r := testenv.Call(t, "GET", h.sales+"/v1/deals/"+deal.Str("id"), rep, nil).Want(t, http.StatusOK)
		return r.Member("next_task").Str("id") == first["id"] && r.Member("next_task").Str("kind") == "call"
	})
	board := testenv.Call(t, "GET", h.sales+"/v1/pipelines/"+deal.Str("pipeline_id")+"/board", rep, nil).Want(t, http.StatusOK)
	if !strings.Contains(string(board.Raw), `"next_task":{"id":"`+first["id"].(string)+`"`) {
		t.Fatalf("the board does not show the deal's next task: %.2000s", board.Raw)
	}
	// An earlier task becomes the next step; a late one makes it overdue.
	late := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Просрочено", "deal_id": deal.Str("id"),
		"due_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}).Want(t, http.StatusCreated).Str("id")
	testenv.Eventually(t, "the late task as the deal's next step", func() bool {
		r := testenv.Call(t, "GET", h.sales+"/v1/deals/"+deal.Str("id"), rep, nil).Want(t, http.StatusOK)
		return r.Member("next_task").Str("id") == late && r.Member("next_task").Body["overdue"] == true
	})
	listed := func(query, id string) bool {
		return strings.Contains(string(testenv.Call(t, "GET", h.sales+"/v1/deals?limit=200&"+query, rep, nil).Want(t, http.StatusOK).Raw), id)
	}
	if !listed("next_step=overdue", deal.Str("id")) || listed("next_step=none", deal.Str("id")) {
		t.Fatal("the deal with a late next step is not listed as overdue only")
	}
	// Without the discipline a new deal has no first task: no next step.
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"discipline": "off"}).Want(t, http.StatusOK)
	bare := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "Без шага"}).Want(t, http.StatusCreated).Str("id")
	testenv.Eventually(t, "the deal without a next step listed", func() bool { return listed("next_step=none", bare) })
	if listed("next_step=overdue", bare) {
		t.Fatal("a deal without a next step is listed as overdue")
	}
	testenv.Call(t, "GET", h.sales+"/v1/deals?next_step=soon", rep, nil).WantField(t, "next_step",
		"must be none (open deals without an open task) or overdue (open deals whose next step is late)")
}
