package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// The next task: overdue first, then due today, each by priority; a
// client outside the call window waits; each device is served its own
// task, the same until it is closed or its claim runs out.
func TestTheNextTaskIsServedToOneDeviceAtATime(t *testing.T) {
	moscow, _ := time.LoadLocation("Europe/Moscow")
	msk := func(day, hour, minute int) time.Time {
		return time.Date(2027, time.January, day, hour, minute, 0, 0, moscow)
	}
	c := &clock{at: msk(13, 12, 0)}
	h := startPeered(t, c.now)
	ru := h.russian(t)
	rep := h.Token(ru, "anna", "rep", "t1")
	h.do("PATCH", "/v1/tasks/settings", h.Token(ru, "boss", "admin", "t1"), map[string]any{"discipline": "off"}).Want(t, http.StatusOK)
	angeleno := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep, map[string]any{"first_name": "Ann", "timezone": "America/Los_Angeles"}).
		Want(t, http.StatusCreated).Str("id")
	plan := func(subject, priority string, body map[string]any) string {
		b := map[string]any{"subject": subject, "priority": priority}
		for k, v := range body {
			b[k] = v
		}
		return h.do("POST", "/v1/tasks", rep, b).Want(t, http.StatusCreated).Str("id")
	}
	due := func(at time.Time) map[string]any { return map[string]any{"due_at": at.Format(time.RFC3339)} }
	late := plan("overdue, normal", "normal", due(msk(13, 10, 0)))
	urgent := plan("overdue, high", "high", due(msk(13, 11, 0)))
	today := plan("due today, high", "high", due(msk(13, 15, 0)))
	allDay := plan("all day today", "normal", map[string]any{"due_date": "2027-01-13"})
	plan("tomorrow", "high", due(msk(14, 10, 0)))
	asleep := plan("overdue, client asleep", "high", map[string]any{"due_at": msk(13, 9, 0).Format(time.RFC3339), "contact_id": angeleno})
	plan("someone else's", "high", map[string]any{"due_at": msk(13, 9, 0).Format(time.RFC3339), "owner_id": "mark"})

	next := func(device string) string {
		r := h.do("GET", "/v1/tasks/next?device="+device, rep).Want(t, http.StatusOK)
		id, _ := r.Member("task").Body["id"].(string)
		return id
	}
	if have := next("phone"); have != urgent {
		t.Fatalf("first served %s, want the high-priority overdue task %s", h.do("GET", "/v1/tasks/"+have, rep).Raw, urgent)
	}
	if have := next("phone"); have != urgent {
		t.Fatalf("the phone again: %s, want the task it holds", have)
	}
	if have := next("laptop"); have != late {
		t.Fatalf("the laptop: %s, want the next overdue task %s", have, late)
	}
	// Two devices at once: two tasks.
	var wg sync.WaitGroup
	served := make([]string, 2)
	for i, device := range []string{"tablet", "watch"} {
		wg.Add(1)
		go func() { defer wg.Done(); served[i] = next(device) }()
	}
	wg.Wait()
	slices.Sort(served)
	want := []string{allDay, today}
	slices.Sort(want)
	if !slices.Equal(served, want) {
		t.Fatalf("two devices at once were served %v, want %v", served, want)
	}
	if have := next("desk"); have != "" {
		t.Fatalf("every task is held, yet the desk was served %s", have)
	}
	// Completing serves the next; claims run out.
	h.do("POST", "/v1/tasks/"+urgent+"/complete", rep, nil).Want(t, http.StatusOK)
	c.set(msk(13, 12, 3))
	if have := next("phone"); have != late {
		t.Fatalf("after completing and the claims running out: %s, want %s", have, late)
	}
	// At 20:00 in Moscow it is 09:00 in Los Angeles: the client is callable.
	c.set(msk(13, 20, 0))
	if have := next("evening"); have != asleep {
		t.Fatalf("in the client's morning: %s, want %s", have, asleep)
	}
	h.do("GET", "/v1/tasks/next?device="+fmt.Sprintf("%0101d", 0), rep).WantField(t, "device", "must be at most 100 characters")
}

// Tasks per hour against the owner's capacity, the nearest free hours,
// and a full hour refused with them.
func TestAFullHourIsRefusedWithTheNearestFreeOnes(t *testing.T) {
	moscow, _ := time.LoadLocation("Europe/Moscow")
	msk := func(hour, minute int) time.Time {
		return time.Date(2027, time.January, 14, hour, minute, 0, 0, moscow)
	}
	c := &clock{at: time.Date(2027, time.January, 13, 12, 0, 0, 0, moscow)}
	h := startPeered(t, c.now)
	ru := h.russian(t)
	rep, admin := h.Token(ru, "anna", "rep", "t1"), h.Token(ru, "boss", "admin", "t1")
	def := h.do("GET", "/v1/calendars", rep).Want(t, http.StatusOK).Body["items"].([]any)[0].(map[string]any)
	week := def["week"]
	h.do("PUT", "/v1/calendars/"+def["id"].(string), admin, map[string]any{"time_zone": "Europe/Moscow", "week": week, "capacity_per_hour": 2}).
		Want(t, http.StatusOK)
	for _, m := range []int{0, 30} {
		h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "call", "due_at": msk(10, m).Format(time.RFC3339)}).Want(t, http.StatusCreated)
	}
	r := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "one more", "due_at": msk(10, 45).Format(time.RFC3339)}).
		Want(t, http.StatusConflict)
	var slots []string
	for _, s := range r.Body["free_slots"].([]any) {
		at, _ := time.Parse(time.RFC3339, s.(string))
		slots = append(slots, at.In(moscow).Format("15:04"))
	}
	if r.Str("type") != "https://rapport.dev/problems/hour-full" || !slices.Equal(slots, []string{"11:00", "12:00", "13:00"}) {
		t.Fatalf("the refusal: %s", r.Raw)
	}
	movable := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "later", "due_at": msk(11, 0).Format(time.RFC3339)}).
		Want(t, http.StatusCreated).Str("id")
	h.do("PATCH", "/v1/tasks/"+movable, rep, map[string]any{"due_at": msk(10, 15).Format(time.RFC3339)}).Want(t, http.StatusConflict)

	q := func(at time.Time) string { return url.QueryEscape(at.Format(time.RFC3339)) }
	load := h.do("GET", "/v1/tasks/load?from="+q(msk(9, 0))+"&to="+q(msk(13, 0)), rep).Want(t, http.StatusOK)
	var hours []string
	for _, it := range load.Body["hours"].([]any) {
		x := it.(map[string]any)
		at, _ := time.Parse(time.RFC3339, x["start"].(string))
		hours = append(hours, fmt.Sprintf("%s %v/%v", at.In(moscow).Format("15"), x["tasks"], x["free"]))
	}
	if want := []string{"09 0/2", "10 2/0", "11 1/1", "12 0/2"}; !slices.Equal(hours, want) || load.Body["capacity_per_hour"] != float64(2) {
		t.Fatalf("the load: %v, want %v: %s", hours, want, load.Raw)
	}
	slotsR := h.do("GET", "/v1/tasks/slots?count=2&from="+q(msk(10, 0)), rep).Want(t, http.StatusOK)
	var free []string
	for _, it := range slotsR.Body["hours"].([]any) {
		at, _ := time.Parse(time.RFC3339, it.(map[string]any)["start"].(string))
		free = append(free, at.In(moscow).Format("15:04"))
	}
	if !slices.Equal(free, []string{"11:00", "12:00"}) {
		t.Fatalf("the free hours: %v", free)
	}
	h.do("GET", "/v1/tasks/slots?count=21", rep).WantField(t, "count", "must be a whole number from 1 to 20")
	h.do("GET", "/v1/tasks/load?from="+q(msk(9, 0))+"&to="+q(msk(8, 0)), rep).
		WantField(t, "to", "must be after from, at most 31 days on")
}
