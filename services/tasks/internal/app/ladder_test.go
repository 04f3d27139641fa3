package app_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tasksv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tasks/v1"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/tasks/internal/app"
)

// clock is a "now" a test moves by hand.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = at
}

// gateway runs the gateway program in front of the three services, with
// env added, and returns its URL.
func (h *peered) gateway(t testing.TB, env ...string) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "issuer.pub.pem")
	if err := os.WriteFile(key, h.Issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1))
	vars := []string{"GATEWAY_ADDR=" + addr, "KAFKA_BROKERS=" + strings.Join(h.Brokers, ","), "AUTH_PUBLIC_KEY_FILE=" + key,
		"LOG_LEVEL=warn", httpkit.PeerVar("contacts") + "=" + h.contacts, httpkit.PeerVar("sales") + "=" + h.sales,
		httpkit.PeerVar("tasks") + "=" + h.url}
	testenv.StartProgram(t, testenv.BuildProgram(t, "gateway"), append(vars, env...), "http://"+addr+"/readyz")
	return "http://" + addr
}

// russian provisions a Russian-speaking tenant, acknowledged by all three.
func (h *peered) russian(t testing.TB) uuid.UUID {
	t.Helper()
	id := uuid.New()
	h.Provision(&tenancyv1.TenantRecord{Id: id.String(), Name: fmt.Sprintf("ru-%.8s", id), Generation: 1, Region: "local", Locale: "ru-RU"},
		app.Name, "contacts", "sales")
	return id
}

// A call walks through the "No answer" ladder through the gateway, on a
// clock the test moves: 5 minutes, 30 minutes, 3 hours (which at 16:00
// would end after the working day, so the next working morning), a day,
// and then the attempts are exhausted, each step an event.
func TestACallWalksTheNoAnswerLadder(t *testing.T) {
	moscow, _ := time.LoadLocation("Europe/Moscow")
	msk := func(day, hour, minute int) time.Time {
		return time.Date(2027, time.January, day, hour, minute, 0, 0, moscow)
	}
	c := &clock{at: msk(13, 10, 0)} // a Wednesday
	h := startPeered(t, c.now)
	gw := h.gateway(t)
	ru := h.russian(t)
	rep := h.Token(ru, "anna", "rep", "t1")

	// The tenant's outcomes were seeded in its language.
	outcomes := testenv.Call(t, "GET", gw+"/v1/outcomes", rep, nil).Want(t, http.StatusOK).Body["items"].([]any)
	first := outcomes[0].(map[string]any)
	if len(outcomes) != 5 || first["key"] != "no_answer" || first["label"] != "Не дозвонился" || fmt.Sprint(first["ladder_minutes"]) != "[5 30 180 1440]" {
		t.Fatalf("the seeded outcomes: %v", outcomes)
	}
	client := testenv.Call(t, "POST", gw+"/v1/contacts", rep, map[string]any{"first_name": "Олег", "timezone": "Europe/Moscow"}).
		Want(t, http.StatusCreated).Str("id")
	task := testenv.Call(t, "POST", gw+"/v1/tasks", rep, map[string]any{"kind": "call", "subject": "Позвонить Олегу", "contact_id": client,
		"due_at": msk(13, 10, 0).Format(time.RFC3339)}).Want(t, http.StatusCreated).Str("id")

	chain := []string{task}
	for _, step := range []struct {
		now, next time.Time
	}{
		{msk(13, 10, 0), msk(13, 10, 5)},
		{msk(13, 10, 5), msk(13, 10, 35)},
		{msk(13, 16, 0), msk(14, 9, 0)}, // 19:00 is after hours: Thursday morning
		{msk(14, 9, 0), msk(15, 9, 0)},
	} {
		c.set(step.now)
		r := testenv.Call(t, "POST", gw+"/v1/tasks/"+chain[len(chain)-1]+"/complete", rep, map[string]any{"outcome": "no_answer"}).
			Want(t, http.StatusOK)
		next := r.Member("next")
		at, _ := time.Parse(time.RFC3339, next.Str("due_at"))
		if !at.Equal(step.next) || r.Body["attempts_exhausted"] != false || next.Str("previous_task_id") != chain[len(chain)-1] ||
			next.Body["attempt"] != float64(len(chain)+1) || next.Str("contact_id") != client || next.Str("status") != "open" {
			t.Fatalf("at %s: want the next attempt at %s, have %s", step.now.In(moscow), step.next.In(moscow), r.Raw)
		}
		if done := r.Member("task"); done.Str("status") != "done" || done.Str("outcome") != "no_answer" {
			t.Fatalf("the attempt is not done: %s", r.Raw)
		}
		chain = append(chain, next.Str("id"))
	}
	c.set(msk(15, 9, 0))
	r := testenv.Call(t, "POST", gw+"/v1/tasks/"+chain[4]+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK)
	if r.Body["attempts_exhausted"] != true || r.Body["next"] != nil {
		t.Fatalf("after the last step: %s", r.Raw)
	}
	// Five attempts, all done, none open.
	list := testenv.Call(t, "GET", gw+"/v1/tasks?contact_id="+client+"&status=open", rep, nil).Want(t, http.StatusOK)
	if len(ids(list)) != 0 {
		t.Fatalf("open attempts left: %s", list.Raw)
	}
	// Each next attempt was crm.task.rescheduled, and the end of the chain
	// crm.task.attempts_exhausted, exactly once.
	for i, id := range chain[1:] {
		if evs := testenv.EventsAbout(t, h.Brokers, catalog.TasksTopic, id, 2); testenv.EventTypes(evs)[0] != catalog.TaskRescheduled {
			t.Errorf("attempt %d began with %v", i+2, testenv.EventTypes(evs))
		}
	}
	evs := testenv.EventsAbout(t, h.Brokers, catalog.TasksTopic, chain[4], 3)
	if have := testenv.EventTypes(evs); strings.Join(have, " ") != "crm.task.rescheduled crm.task.completed crm.task.attempts_exhausted" {
		t.Fatalf("the last attempt's events: %v", have)
	}
	var end tasksv1.AttemptsExhausted
	if err := evs[2].Unmarshal(&end); err != nil || end.GetAttempts() != 5 || end.GetTask().GetContactId() != client || end.GetLoseDeal() {
		t.Fatalf("crm.task.attempts_exhausted: %v %v", &end, err)
	}
}

// The other outcomes: one that completes, a call back at the time the
// client asked, and the next step planned with the completion. Wrong
// outcomes, call-back times and next steps are refused with nothing changed.
func TestOutcomesCompleteOrPlanWhatFollows(t *testing.T) {
	moscow, _ := time.LoadLocation("Europe/Moscow")
	now := time.Date(2027, time.January, 13, 11, 0, 0, 0, moscow)
	c := &clock{at: now}
	h := startPeered(t, c.now)
	ru := h.russian(t)
	rep, admin := h.Token(ru, "anna", "rep", "t1"), h.Token(ru, "boss", "admin", "t1")
	client := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep, map[string]any{"first_name": "Ольга", "timezone": "Asia/Vladivostok"}).
		Want(t, http.StatusCreated).Str("id")
	plan := func(subject string) string {
		return h.do("POST", "/v1/tasks", rep, map[string]any{"kind": "call", "subject": subject, "contact_id": client}).Want(t, http.StatusCreated).Str("id")
	}
	task := plan("Позвонить Ольге")

	// Refusals first: each leaves the task open at version 1.
	for _, tc := range []struct {
		body         map[string]any
		field, words string
	}{
		{map[string]any{"outcome": "teleported"}, "outcome", "no such outcome: teleported (GET /v1/outcomes lists them)"},
		{map[string]any{"outcome": "call_back_later"}, "callback_at", "this outcome plans a call back: say when, as a time such as 2027-01-15T15:00:00+03:00"},
		{map[string]any{"outcome": "call_back_later", "callback_at": now.Add(-time.Minute).Format(time.RFC3339)}, "callback_at", "must be in the future"},
		{map[string]any{"outcome": "reached", "callback_at": now.Add(time.Hour).Format(time.RFC3339)}, "callback_at", "only an outcome that plans a call back takes callback_at"},
		{map[string]any{"outcome": "call_back_later", "callback_at": "tomorrow"}, "callback_at", "must be a time such as 2027-01-15T09:00:00+03:00"},
		{map[string]any{"outcome": "reached", "next": map[string]any{"subject": "Late", "due_at": now.Add(-time.Hour).Format(time.RFC3339)}},
			"next/due_at", "must not be in the past"},
		{map[string]any{"outcome": "reached", "next": map[string]any{"subject": ""}}, "next/subject", "must be 1 to 200 characters"},
		{map[string]any{"outcome": "reached", "next": map[string]any{"subject": "Sneak", "deal_id": uuid.NewString()}}, "next/deal_id", "no such deal"},
		{map[string]any{"outcome": "no_answer", "next": map[string]any{"subject": "Both"}}, "next",
			"this outcome plans the next attempt itself; give next with an outcome that completes the step"},
	} {
		h.do("POST", "/v1/tasks/"+task+"/complete", rep, tc.body).WantField(t, tc.field, tc.words)
	}
	if r := h.do("GET", "/v1/tasks/"+task, rep).Want(t, http.StatusOK); r.Str("status") != "open" || r.Body["version"] != float64(1) {
		t.Fatalf("a refused completion changed the task: %s", r.Raw)
	}
	if n := len(ids(h.do("GET", "/v1/tasks", admin).Want(t, http.StatusOK))); n != 1 {
		t.Fatalf("a refused completion planned tasks: %d", n)
	}

	// The client asked to be called back at 15:00 their time: exactly then.
	at := time.Date(2027, time.January, 14, 15, 0, 0, 0, time.FixedZone("VLAT", 10*3600))
	r := h.do("POST", "/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "call_back_later", "callback_at": at.Format(time.RFC3339)}).
		Want(t, http.StatusOK)
	callback := r.Member("next")
	if due, _ := time.Parse(time.RFC3339, callback.Str("due_at")); !due.Equal(at) || callback.Member("client").Str("due_local") != "2027-01-14T15:00" {
		t.Fatalf("the call back: %s", r.Raw)
	}
	// Reached: done, and the next step planned in the same request.
	r = h.do("POST", "/v1/tasks/"+callback.Str("id")+"/complete", rep, map[string]any{"outcome": "reached", "result": "Ждёт предложение",
		"next": map[string]any{"kind": "email", "subject": "Отправить предложение", "due_local": "2027-01-15T10:00"}}).Want(t, http.StatusOK)
	next := r.Member("next")
	if next.Str("kind") != "email" || next.Str("contact_id") != client || next.Str("owner_id") != "anna" || next.Str("previous_task_id") != callback.Str("id") ||
		next.Body["attempt"] != float64(1) || next.Str("due_at") != "2027-01-15T00:00:00Z" || r.Member("task").Str("result") != "Ждёт предложение" {
		t.Fatalf("the next step: %s", r.Raw)
	}
	evs := testenv.EventsAbout(t, h.Brokers, catalog.TasksTopic, next.Str("id"), 1)
	if have := testenv.EventTypes(evs); have[0] != catalog.TaskCreated {
		t.Fatalf("the next step's event: %v", have)
	}
	// Cancelling takes a next step too, and no outcome.
	other := plan("Ещё звонок")
	h.do("POST", "/v1/tasks/"+other+"/cancel", rep, map[string]any{"outcome": "reached"}).
		WantField(t, "outcome", "a task cancelled has no outcome; complete it with one instead")
	r = h.do("POST", "/v1/tasks/"+other+"/cancel", rep, map[string]any{"result": "Перенесли", "next": map[string]any{"subject": "Встреча"}}).
		Want(t, http.StatusOK)
	if r.Member("task").Str("status") != "cancelled" || r.Member("next").Str("subject") != "Встреча" {
		t.Fatalf("a cancellation with a next step: %s", r.Raw)
	}
	// An archived outcome ends no more tasks.
	var wrong string
	for _, it := range h.do("GET", "/v1/outcomes", admin).Want(t, http.StatusOK).Body["items"].([]any) {
		if o := it.(map[string]any); o["key"] == "wrong_number" {
			wrong = o["id"].(string)
		}
	}
	h.do("PATCH", "/v1/outcomes/"+wrong, admin, map[string]any{"archived": true}).Want(t, http.StatusOK)
	h.do("POST", "/v1/tasks/"+plan("Third")+"/complete", rep, map[string]any{"outcome": "wrong_number"}).
		WantField(t, "outcome", "no such outcome: wrong_number (GET /v1/outcomes lists them)")
}
