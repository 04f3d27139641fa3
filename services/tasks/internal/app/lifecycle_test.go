package app_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tasksv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tasks/v1"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// A task is planned, changed, completed once, and its events wait in the
// outbox in that order.
func TestATaskIsPlannedChangedAndCompleted(t *testing.T) {
	h := start(t)
	rep := h.Token(h.tenantA, "rep", "rep", "t1")
	r := h.do("POST", "/v1/tasks", rep, map[string]any{"kind": "call", "subject": "  Call Anna about the renewal ",
		"due_at": "2027-01-15T10:00:00+03:00", "duration_minutes": 15, "priority": "high"}).Want(t, http.StatusCreated)
	id := r.Str("id")
	if r.Header.Get("Location") != "/v1/tasks/"+id || r.Header.Get("ETag") != `"1"` || r.Str("subject") != "Call Anna about the renewal" ||
		r.Str("owner_id") != "rep" || r.Str("team") != "t1" || r.Str("status") != "open" || r.Str("due_at") != "2027-01-15T07:00:00Z" {
		t.Fatalf("created: %v %s", r.Header, r.Raw)
	}
	got := h.do("GET", "/v1/tasks/"+id, rep).Want(t, http.StatusOK)
	if got.Str("kind") != "call" || got.Str("priority") != "high" || got.Body["duration_minutes"].(float64) != 15 {
		t.Fatalf("read: %s", got.Raw)
	}

	// An all-day task instead of a time; a stale version is refused.
	h.call("PATCH", "/v1/tasks/"+id, rep, map[string]any{"due_date": "2027-01-16"}, "If-Match", `"7"`).Want(t, http.StatusPreconditionFailed)
	p := h.call("PATCH", "/v1/tasks/"+id, rep, map[string]any{"due_date": "2027-01-16"}, "If-Match", `"1"`).Want(t, http.StatusOK)
	if p.Body["due_at"] != nil || p.Str("due_date") != "2027-01-16" || p.Header.Get("ETag") != `"2"` {
		t.Fatalf("patched: %s", p.Raw)
	}

	done := h.do("POST", "/v1/tasks/"+id+"/complete", rep, map[string]any{"outcome": "reached", "result": "Meets us Friday"}).Want(t, http.StatusOK).Member("task")
	if done.Str("status") != "done" || done.Str("outcome") != "reached" || done.Str("closed_by") != "rep" || done.Body["closed_at"] == nil {
		t.Fatalf("completed: %s", done.Raw)
	}
	// Completing twice, or changing a closed task, changes nothing.
	again := h.do("POST", "/v1/tasks/"+id+"/complete", rep, map[string]any{"outcome": "wrong_number"}).Want(t, http.StatusConflict)
	if again.Str("type") == "" || h.do("GET", "/v1/tasks/"+id, rep).Str("outcome") != "reached" {
		t.Fatalf("completed twice: %s", again.Raw)
	}
	h.do("PATCH", "/v1/tasks/"+id, rep, map[string]any{"subject": "x"}).Want(t, http.StatusConflict)
	h.do("POST", "/v1/tasks/"+id+"/cancel", rep, nil).Want(t, http.StatusConflict)

	evs := testenv.EventsAbout(t, h.Brokers, service.Topic, id, 3)
	if have, want := testenv.EventTypes(evs), []string{"crm.task.created", "crm.task.updated", "crm.task.completed"}; !slices.Equal(have, want) {
		t.Fatalf("events %v, want %v", have, want)
	}
	var completed tasksv1.TaskChanged
	if err := evs[2].Unmarshal(&completed); err != nil || completed.GetTask().GetOutcome() != "reached" || completed.GetActorId() != "rep" || completed.GetTask().GetVersion() != 3 {
		t.Fatalf("crm.task.completed: %v %v", &completed, err)
	}

	c := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Visit"}).Want(t, http.StatusCreated).Str("id")
	if h.do("POST", "/v1/tasks/"+c+"/cancel", rep, map[string]any{"result": "moved online"}).Want(t, http.StatusOK).Member("task").Str("status") != "cancelled" {
		t.Fatal("not cancelled")
	}
	h.call("DELETE", "/v1/tasks/"+c, rep, nil, "If-Match", `"1"`).Want(t, http.StatusPreconditionFailed)
	h.do("DELETE", "/v1/tasks/"+c, rep).Want(t, http.StatusNoContent)
	h.do("GET", "/v1/tasks/"+c, rep).Want(t, http.StatusNotFound)
}

// Bad input is one problem naming every member at fault, and stores nothing.
func TestBadTasksAreRefusedWholly(t *testing.T) {
	h := start(t)
	rep := h.Token(h.tenantA, "rep", "rep", "t1")
	r := h.do("POST", "/v1/tasks", rep, map[string]any{"kind": "fax", "subject": "", "due_at": "tomorrow", "due_date": "2027-02-30",
		"duration_minutes": 2000, "priority": "urgent"}).Want(t, http.StatusUnprocessableEntity)
	fields := r.FieldPaths()
	for _, want := range []string{"kind", "subject", "due_at", "due_date", "duration_minutes", "priority"} {
		if !slices.Contains(fields, want) {
			t.Errorf("no %s among %v", want, fields)
		}
	}
	h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "x", "due_at": "2027-01-15T10:00:00Z", "due_date": "2027-01-15"}).
		Want(t, http.StatusUnprocessableEntity)
	for _, bad := range []string{"?status=late", "?kind=Fax!", "?due_from=yesterday", "?overdue=maybe"} {
		h.do("GET", "/v1/tasks"+bad, rep).Want(t, http.StatusUnprocessableEntity)
	}
	if have := ids(h.do("GET", "/v1/tasks", rep).Want(t, http.StatusOK)); len(have) != 0 {
		t.Fatalf("refused tasks were stored: %v", have)
	}
	// Read-only roles read but do not plan.
	h.do("POST", "/v1/tasks", h.Token(h.tenantA, "v", "viewer", "t1"), map[string]any{"subject": "x"}).Want(t, http.StatusForbidden)
}

// Filters: owner, status, kind, due range and overdue.
func TestListFilters(t *testing.T) {
	h := start(t)
	admin := h.Token(h.tenantA, "ann", "admin", "t1")
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	late := h.do("POST", "/v1/tasks", admin, map[string]any{"subject": "late", "kind": "call", "due_at": past, "owner_id": "rep"}).Want(t, http.StatusCreated).Str("id")
	soon := h.do("POST", "/v1/tasks", admin, map[string]any{"subject": "soon", "kind": "email", "due_at": future}).Want(t, http.StatusCreated).Str("id")
	closed := h.do("POST", "/v1/tasks", admin, map[string]any{"subject": "closed", "due_at": past}).Want(t, http.StatusCreated).Str("id")
	h.do("POST", "/v1/tasks/"+closed+"/complete", admin, nil).Want(t, http.StatusOK)
	for q, want := range map[string][]string{
		"?overdue=true":          {late},
		"?owner_id=rep":          {late},
		"?kind=email":            {soon},
		"?status=done":           {closed},
		"?due_from=" + future:    {soon},
		"?due_to=" + future:      {late, closed},
		"?status=open&kind=call": {late},
	} {
		if have := ids(h.do("GET", "/v1/tasks"+q, admin).Want(t, http.StatusOK)); !slices.Equal(have, want) {
			t.Errorf("%s: have %v, want %v", q, have, want)
		}
	}
}

// Another tenant's task, or one the caller may not see, is not there; a
// role that only reads may not change one it sees.
func TestTasksKeepToTheirTenantAndTheirReaders(t *testing.T) {
	h := start(t)
	id := h.task(h.tenantA, "A's call", "rep", "t1")
	for _, tok := range []string{h.Token(h.tenantB, "ann", "admin", "t1"), h.Token(h.tenantA, "other", "rep", "t1"),
		h.Token(h.tenantA, "boss2", "manager", "t2")} {
		h.do("GET", "/v1/tasks/"+id, tok).Want(t, http.StatusNotFound)
		h.do("PATCH", "/v1/tasks/"+id, tok, map[string]any{"subject": "mine"}).Want(t, http.StatusNotFound)
		h.do("POST", "/v1/tasks/"+id+"/complete", tok, nil).Want(t, http.StatusNotFound)
		h.do("POST", "/v1/tasks/"+id+"/cancel", tok, nil).Want(t, http.StatusNotFound)
		h.do("DELETE", "/v1/tasks/"+id, tok).Want(t, http.StatusNotFound)
	}
	viewer := h.Token(h.tenantA, "seer", "viewer", "t1")
	h.do("GET", "/v1/tasks/"+id, viewer).Want(t, http.StatusOK)
	h.do("POST", "/v1/tasks/"+id+"/complete", viewer, nil).Want(t, http.StatusForbidden)
	manager := h.Token(h.tenantA, "boss", "manager", "t1")
	if h.do("POST", "/v1/tasks/"+id+"/complete", manager, nil).Want(t, http.StatusOK).Member("task").Str("closed_by") != "boss" {
		t.Fatal("the team's manager could not complete the rep's task")
	}
	h.do("GET", "/v1/tasks/not-a-uuid", manager).Want(t, http.StatusNotFound)
}

func (h *harness) call(method, path, token string, body any, headers ...string) testenv.Reply {
	h.T.Helper()
	return testenv.Call(h.T, method, h.url+path, token, body, headers...)
}

// The day plan counts the owner's open tasks by when they are due, days
// reckoned in the zone asked for; closed tasks, other owners' and what the
// caller may not see are not counted.
func TestTheAgendaCountsTheDay(t *testing.T) {
	h := start(t)
	// A zone where it is about noon now, so that no count straddles midnight.
	offset := 12 - time.Now().UTC().Hour()
	zone := "Etc/GMT" + map[bool]string{true: "+", false: "-"}[offset <= 0] + strconv.Itoa(abs(offset))
	if offset == 0 {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	local := time.Now().In(loc)
	day := func(n int) string { return local.AddDate(0, 0, n).Format(time.DateOnly) }
	rep := h.Token(h.tenantA, "rep", "rep", "t1")
	plan := func(body map[string]any) string {
		t.Helper()
		body["subject"] = "x"
		return h.do("POST", "/v1/tasks", rep, body).Want(t, http.StatusCreated).Str("id")
	}
	plan(map[string]any{"due_at": time.Now().Add(-2 * time.Hour).Format(time.RFC3339)})      // overdue
	plan(map[string]any{"due_date": day(-1)})                                                // overdue, all day
	plan(map[string]any{"due_at": time.Now().Add(time.Hour).Format(time.RFC3339)})           // today
	plan(map[string]any{"due_date": day(0)})                                                 // today, all day
	plan(map[string]any{"due_date": day(1)})                                                 // tomorrow
	plan(map[string]any{"due_at": time.Now().Add(40 * 24 * time.Hour).Format(time.RFC3339)}) // later
	plan(map[string]any{})                                                                   // undated
	done := plan(map[string]any{"due_date": day(0)})
	h.do("POST", "/v1/tasks/"+done+"/complete", rep, nil).Want(t, http.StatusOK)
	h.task(h.tenantA, "someone else's", "mate", "t1")

	a := h.do("GET", "/v1/tasks/agenda?time_zone="+url.QueryEscape(zone), rep).Want(t, http.StatusOK)
	for k, want := range map[string]float64{"overdue": 2, "today": 2, "tomorrow": 1, "later": 1, "undated": 1} {
		if have := a.Body[k].(float64); have != want {
			t.Errorf("%s: have %v, want %v (%s)", k, have, want, a.Raw)
		}
	}
	if a.Str("time_zone") != zone {
		t.Errorf("zone %q", a.Str("time_zone"))
	}
	// The team's manager sees the rep's day; another rep does not.
	if m := h.do("GET", "/v1/tasks/agenda?owner_id=rep&time_zone="+url.QueryEscape(zone), h.Token(h.tenantA, "boss", "manager", "t1")).Want(t, http.StatusOK); m.Body["today"].(float64) != 2 {
		t.Errorf("the manager's view of the rep's day: %s", m.Raw)
	}
	if o := h.do("GET", "/v1/tasks/agenda?owner_id=rep", h.Token(h.tenantA, "other", "rep", "t2")).Want(t, http.StatusOK); o.Body["overdue"].(float64) != 0 || o.Body["undated"].(float64) != 0 {
		t.Errorf("another rep counts the rep's tasks: %s", o.Raw)
	}
	h.do("GET", "/v1/tasks/agenda?time_zone=Mars/Base", rep).Want(t, http.StatusUnprocessableEntity)
	h.do("GET", "/v1/tasks/agenda?sort=due", rep).Want(t, http.StatusUnprocessableEntity)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
