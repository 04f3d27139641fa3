package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// A tenant's outcomes are its admins': added, relabelled, their ladders
// changed and archived, each validated; a rep may only read them.
func TestOutcomesAreTheTenantsToEdit(t *testing.T) {
	h := start(t)
	admin, rep := h.Token(h.tenantA, "ann", "admin", "t1"), h.Token(h.tenantA, "rep", "rep", "t1")
	r := h.do("GET", "/v1/outcomes", rep).Want(t, http.StatusOK)
	var keys []string
	for _, it := range r.Body["items"].([]any) {
		keys = append(keys, it.(map[string]any)["key"].(string))
	}
	if want := []string{"no_answer", "reached", "call_back_later", "wrong_number", "not_interested"}; !slices.Equal(keys, want) {
		t.Fatalf("an English tenant's outcomes: %v, want %v", keys, want)
	}
	if label := r.Body["items"].([]any)[0].(map[string]any)["label"]; label != "No answer" {
		t.Fatalf("the first label: %v", label)
	}
	h.do("POST", "/v1/outcomes", rep, map[string]any{"key": "busy", "label": "Busy", "action": "complete"}).Want(t, http.StatusForbidden)
	for _, tc := range []struct {
		body         map[string]any
		field, words string
	}{
		{map[string]any{"key": "busy", "label": "Busy", "action": "retry", "ladder_minutes": []int{10, 60, 60}}, "ladder_minutes/2",
			"must be longer than the step before it (1h0m0s): a ladder waits longer after each attempt"},
		{map[string]any{"key": "busy", "label": "Busy", "action": "retry"}, "ladder_minutes", "must hold 1 to 20 delays"},
		{map[string]any{"key": "busy", "label": "Busy", "action": "complete", "ladder_minutes": []int{5}}, "ladder_minutes",
			"only an outcome whose action is retry has a ladder"},
		{map[string]any{"key": "Busy!", "label": "Busy", "action": "complete"}, "key", "must be 1 to 40 lower-case letters, digits or _, starting with a letter"},
		{map[string]any{"key": "busy", "label": "", "action": "complete"}, "label", "must be 1 to 100 characters"},
		{map[string]any{"key": "busy", "label": "Busy", "action": "teleport"}, "action", "must be one of complete, retry, callback"},
	} {
		h.do("POST", "/v1/outcomes", admin, tc.body).WantField(t, tc.field, tc.words)
	}
	busy := h.do("POST", "/v1/outcomes", admin, map[string]any{"key": "busy", "label": "Busy", "action": "retry", "ladder_minutes": []int{10, 60, 240}}).
		Want(t, http.StatusCreated)
	if busy.Body["position"] != float64(5) || fmt.Sprint(busy.Body["ladder_minutes"]) != "[10 60 240]" || busy.Header.Get("ETag") != `"1"` {
		t.Fatalf("the new outcome: %s", busy.Raw)
	}
	h.do("POST", "/v1/outcomes", admin, map[string]any{"key": "busy", "label": "Again", "action": "complete"}).Want(t, http.StatusConflict)
	id := busy.Str("id")
	h.do("PATCH", "/v1/outcomes/"+id, admin, map[string]any{"key": "engaged"}).WantField(t, "key",
		"an outcome's key and action do not change: tasks and reports hold them; add another outcome instead")
	h.do("PATCH", "/v1/outcomes/"+id, admin, map[string]any{"ladder_minutes": []int{30, 20}}).WantField(t, "ladder_minutes/1",
		"must be longer than the step before it (30m0s): a ladder waits longer after each attempt")
	changed := h.do("PATCH", "/v1/outcomes/"+id, admin, map[string]any{"label": "Line busy", "ladder_minutes": []int{15, 90}}, "If-Match", `"1"`).
		Want(t, http.StatusOK)
	if changed.Str("label") != "Line busy" || fmt.Sprint(changed.Body["ladder_minutes"]) != "[15 90]" || changed.Body["version"] != float64(2) {
		t.Fatalf("the changed outcome: %s", changed.Raw)
	}
	h.do("PATCH", "/v1/outcomes/"+id, admin, map[string]any{"archived": true}, "If-Match", `"1"`).Want(t, http.StatusPreconditionFailed)
	h.do("PATCH", "/v1/outcomes/"+id, admin, map[string]any{"archived": true}).Want(t, http.StatusOK)
	if n := len(h.do("GET", "/v1/outcomes", rep).Body["items"].([]any)); n != 5 {
		t.Errorf("the list without archived ones holds %d", n)
	}
	if n := len(h.do("GET", "/v1/outcomes?archived=true", rep).Body["items"].([]any)); n != 6 {
		t.Errorf("the list with archived ones holds %d", n)
	}
	// Another tenant's outcome is not there.
	h.do("GET", "/v1/outcomes/"+id, h.Token(h.tenantB, "ann", "admin", "t1")).Want(t, http.StatusNotFound)
	h.do("PATCH", "/v1/outcomes/"+id, h.Token(h.tenantB, "ann", "admin", "t1"), map[string]any{"label": "Mine"}).Want(t, http.StatusNotFound)
}

// Calendars: the tenant's default, seeded (with the statutory holidays for
// a Russian tenant), and users' own; each validated, the default kept.
func TestCalendarsAreValidatedAndTheDefaultStays(t *testing.T) {
	h := startWithPeers(t)
	ru := h.russian(t)
	admin, rep := h.Token(ru, "boss", "admin", "t1"), h.Token(ru, "anna", "rep", "t1")
	list := h.do("GET", "/v1/calendars", rep).Want(t, http.StatusOK).Body["items"].([]any)
	def := list[0].(map[string]any)
	holidays := fmt.Sprint(def["holidays"])
	monday := fmt.Sprint(def["week"].(map[string]any)["monday"])
	if len(list) != 1 || def["user_id"] != nil || def["time_zone"] != "Europe/Moscow" || monday != "[map[from:09:00 to:18:00]]" ||
		fmt.Sprint(def["week"].(map[string]any)["saturday"]) != "[]" {
		t.Fatalf("a Russian tenant's default calendar: %v", def)
	}
	for _, day := range []string{"2027-01-07", "2027-02-23", "2027-06-14", "2026-03-09"} { // 12 June 2027 and 8 March 2026 fall on weekends
		if !slices.Contains(def["holidays"].([]any), any(day)) {
			t.Errorf("the default calendar lacks %s: %s", day, holidays)
		}
	}
	defID := def["id"].(string)

	week := func(spans ...map[string]any) map[string]any {
		return map[string]any{"monday": spans, "tuesday": spans, "wednesday": spans, "thursday": spans, "friday": spans}
	}
	span := func(from, to string) map[string]any { return map[string]any{"from": from, "to": to} }
	for _, tc := range []struct {
		body         map[string]any
		field, words string
	}{
		{map[string]any{"user_id": "anna", "time_zone": "Mars/Olympus", "week": week(span("09:00", "18:00"))}, "time_zone",
			"must be an IANA time zone such as Europe/Moscow"},
		{map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow", "week": week(span("09:00", "13:00"), span("12:00", "18:00"))},
			"week/monday", "12:00–18:00 overlaps 09:00–13:00"},
		{map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow", "week": week(span("18:00", "09:00"))}, "week/monday/0",
			"must end after it starts, within the day (such as 09:00–18:00)"},
		{map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow", "week": map[string]any{"funday": []any{span("09:00", "18:00")}}},
			"week/funday", "must be a weekday: sunday, monday, tuesday, wednesday, thursday, friday, saturday"},
		{map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow", "week": week(span("9am", "18:00"))}, "week/monday/0/from",
			"must be a time of day such as 09:00"},
		{map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow", "holidays": []string{"2027-02-30"}}, "holidays/0",
			"must be a date such as 2027-01-01"},
	} {
		h.do("POST", "/v1/calendars", rep, tc.body).WantField(t, tc.field, tc.words)
	}
	// A rep gives themself a calendar, not someone else.
	late := week(span("12:00", "20:00"))
	h.do("POST", "/v1/calendars", rep, map[string]any{"user_id": "mark", "time_zone": "Europe/Moscow", "week": late}).Want(t, http.StatusForbidden)
	own := h.do("POST", "/v1/calendars", rep, map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow", "week": late}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/calendars", admin, map[string]any{"user_id": "anna", "time_zone": "Europe/Moscow"}).Want(t, http.StatusConflict)
	// The default is the admins' to change, never to delete.
	h.do("PUT", "/v1/calendars/"+defID, rep, map[string]any{"time_zone": "Europe/Samara"}).Want(t, http.StatusForbidden)
	h.do("PUT", "/v1/calendars/"+defID, admin, map[string]any{"time_zone": "Europe/Samara"}, "If-Match", `"7"`).Want(t, http.StatusPreconditionFailed)
	changed := h.do("PUT", "/v1/calendars/"+defID, admin, map[string]any{"time_zone": "Europe/Moscow", "week": week(span("10:00", "19:00")),
		"workdays": map[string]any{"2027-11-06": []any{span("10:00", "15:00")}}}, "If-Match", `"1"`).Want(t, http.StatusOK)
	if changed.Body["version"] != float64(2) || fmt.Sprint(changed.Body["workdays"]) != "map[2027-11-06:[map[from:10:00 to:15:00]]]" {
		t.Fatalf("the changed default: %s", changed.Raw)
	}
	h.do("DELETE", "/v1/calendars/"+defID, admin).Want(t, http.StatusConflict)

	// The owner's own hours place their automatic times: 10:05 is before
	// Anna's 12:00.
	moscow, _ := time.LoadLocation("Europe/Moscow")
	task := h.do("POST", "/v1/tasks", rep, map[string]any{"kind": "call", "subject": "Call"}).Want(t, http.StatusCreated).Str("id")
	r := h.do("POST", "/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK)
	due, _ := time.Parse(time.RFC3339, r.Member("next").Str("due_at"))
	if local := due.In(moscow); local.Hour() < 12 || local.Hour() >= 20 || local.Weekday() == time.Saturday || local.Weekday() == time.Sunday {
		t.Fatalf("the next attempt at %s, outside Anna's 12:00–20:00 on weekdays", local)
	}
	h.do("DELETE", "/v1/calendars/"+own.Str("id"), rep).Want(t, http.StatusNoContent)
	if n := len(h.do("GET", "/v1/calendars", rep).Body["items"].([]any)); n != 1 {
		t.Fatalf("after the delete: %d calendars", n)
	}
	h.do("GET", "/v1/calendars/"+defID, h.Token(h.tenantA, "ann", "admin", "t1")).Want(t, http.StatusNotFound)
}

// The rules of tasks: defaults, changed by admins only, validated. The
// call window keeps automatic times on the client's day: 21:20 in
// Vladivostok waits for the owner's next morning.
func TestSettingsAndTheClientsCallWindow(t *testing.T) {
	moscow, _ := time.LoadLocation("Europe/Moscow")
	msk := func(day, hour, minute int) time.Time {
		return time.Date(2027, time.January, day, hour, minute, 0, 0, moscow)
	}
	c := &clock{at: msk(13, 13, 30)}
	h := startPeered(t, c.now)
	ru := h.russian(t)
	admin, rep := h.Token(ru, "boss", "admin", "t1"), h.Token(ru, "anna", "rep", "t1")
	s := h.do("GET", "/v1/tasks/settings", rep).Want(t, http.StatusOK)
	if s.Str("discipline") != "strict" || fmt.Sprint(s.Body["call_window"]) != "map[from:09:00 to:21:00]" ||
		s.Body["first_response_minutes"] != float64(60) || s.Body["reminder_minutes"] != float64(15) || s.Header.Get("ETag") != `"1"` {
		t.Fatalf("the default settings: %s", s.Raw)
	}
	h.do("PATCH", "/v1/tasks/settings", rep, map[string]any{"discipline": "off"}).Want(t, http.StatusForbidden)
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"discipline": "lax"}).WantField(t, "discipline", "must be one of strict, warn, off")
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"call_window": map[string]any{"from": "22:00", "to": "08:00"}}).
		WantField(t, "call_window", "must end after it starts, within the day (such as 09:00–21:00)")
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"reminder_minutes": -1}).WantField(t, "reminder_minutes", "must be between 0 and 10080")
	ch := h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"discipline": "warn", "repeat_sale_days": 90}, "If-Match", `"1"`).
		Want(t, http.StatusOK)
	if ch.Str("discipline") != "warn" || ch.Body["repeat_sale_days"] != float64(90) || ch.Body["version"] != float64(2) {
		t.Fatalf("the changed settings: %s", ch.Raw)
	}
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"discipline": "off"}, "If-Match", `"1"`).Want(t, http.StatusPreconditionFailed)

	// The tenant's own kinds of task.
	h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Demo", "kind": "demo"}).
		WantField(t, "kind", "must be one of call, meeting, email, visit, todo")
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"kinds": []string{"demo", "call"}}).WantField(t, "kinds/1", "is already a kind")
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"kinds": []string{"demo", "delivery"}}).Want(t, http.StatusOK)
	demo := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Demo", "kind": "demo"}).Want(t, http.StatusCreated).Str("id")
	if ids := ids(h.do("GET", "/v1/tasks?kind=demo", rep).Want(t, http.StatusOK)); len(ids) != 1 || ids[0] != demo {
		t.Fatalf("the demo tasks: %v", ids)
	}
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"kinds": []string{"delivery"}}).Want(t, http.StatusOK)
	h.do("PATCH", "/v1/tasks/"+demo, rep, map[string]any{"subject": "Demo, moved"}).Want(t, http.StatusOK) // keeps its dropped kind
	h.do("PATCH", "/v1/tasks/"+demo, rep, map[string]any{"kind": "demo"}).Want(t, http.StatusOK)
	h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Demo", "kind": "demo"}).
		WantField(t, "kind", "must be one of call, meeting, email, visit, todo, delivery")

	client := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep, map[string]any{"first_name": "Иван", "timezone": "Asia/Vladivostok"}).
		Want(t, http.StatusCreated).Str("id")
	task := h.do("POST", "/v1/tasks", rep, map[string]any{"kind": "call", "subject": "Позвонить", "contact_id": client}).Want(t, http.StatusCreated).Str("id")
	// 13:35 Moscow is 20:35 in Vladivostok: inside the window.
	r := h.do("POST", "/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK)
	if due, _ := time.Parse(time.RFC3339, r.Member("next").Str("due_at")); !due.Equal(msk(13, 13, 35)) {
		t.Fatalf("the second attempt: %s", r.Raw)
	}
	// 14:20 Moscow would be 21:20 there: the client's next 09:00 is 02:00
	// in Moscow, before the owner's day; so Thursday 09:00 Moscow.
	c.set(msk(13, 13, 50))
	r = h.do("POST", "/v1/tasks/"+r.Member("next").Str("id")+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK)
	if due, _ := time.Parse(time.RFC3339, r.Member("next").Str("due_at")); !due.Equal(msk(14, 9, 0)) || r.Member("next").Member("client").Str("due_local") != "2027-01-14T16:00" {
		t.Fatalf("the third attempt: %s", r.Raw)
	}
}
