package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/tasks/internal/app"
)

// peered runs tasks beside the real contacts and sales programs, on one
// broker, with tenants all three have acknowledged.
type peered struct {
	*harness
	contacts, sales string
}

func startWithPeers(t testing.TB) *peered { return startPeered(t, nil) }

// startPeered is startWithPeers with the tasks service on clock (nil: the
// real one).
func startPeered(t testing.TB, clock func() time.Time) *peered {
	t.Helper()
	w := testenv.NewWorld(t, catalog.ContactsTopic, catalog.SalesTopic, catalog.TasksTopic)
	ports := testenv.FreePorts(t, 3)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports+i) }
	p := &peered{harness: &harness{World: w}, contacts: "http://" + addr(0), sales: "http://" + addr(1)}
	testenv.StartService(t, "contacts", addr(0), w.Brokers, w.Issuer.PublicKeyPEM(), "SALES_URL="+p.sales)
	testenv.StartService(t, "sales", addr(1), w.Brokers, w.Issuer.PublicKeyPEM(), "CONTACTS_URL="+p.contacts)
	cfg := app.Config{Config: w.Config(), Clock: clock}
	cfg.ContactsURL, _ = url.Parse(p.contacts)
	cfg.SalesURL, _ = url.Parse(p.sales)
	p.url = testenv.Run(w, func(ctx context.Context) (*app.App, error) {
		return app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	p.tenantA, p.tenantB = w.Tenant(app.Name, "contacts", "sales"), w.Tenant(app.Name, "contacts", "sales")
	return p
}

// A task names a deal, a contact and a company the caller sees, even one
// created a moment ago that the projection has not heard of yet; it shows
// the client's local time and may be planned in it. A record the caller
// may not see is refused exactly as a missing one, and nothing is stored.
func TestATaskNamesWhatTheCallerSeesAndShowsTheClientsTime(t *testing.T) {
	h := startWithPeers(t)
	admin := h.Token(h.tenantA, "ann", "admin", "t1")
	rep := h.Token(h.tenantA, "rep", "rep", "t1")
	// New deals get no first task here: the lists below hold only this test's tasks.
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"discipline": "off"}).Want(t, http.StatusOK)
	contact := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep,
		map[string]any{"first_name": "Ivan", "last_name": "Petrov", "timezone": "Asia/Vladivostok"}).Want(t, http.StatusCreated).Str("id")
	company := testenv.Call(t, "POST", h.contacts+"/v1/companies", rep, map[string]any{"name": "Primorye Fish"}).Want(t, http.StatusCreated).Str("id")
	deal := testenv.Call(t, "POST", h.sales+"/v1/deals", rep, map[string]any{"title": "Trawlers", "contact_id": contact}).
		Want(t, http.StatusCreated).Str("id")
	hidden := testenv.Call(t, "POST", h.contacts+"/v1/contacts", admin,
		map[string]any{"first_name": "Far", "owner_id": "other", "team": "t2"}).Want(t, http.StatusCreated).Str("id")
	hiddenDeal := testenv.Call(t, "POST", h.sales+"/v1/deals", admin, map[string]any{"title": "Not yours", "owner_id": "other", "team": "t2"}).
		Want(t, http.StatusCreated).Str("id")
	foreign := testenv.Call(t, "POST", h.contacts+"/v1/contacts", h.Token(h.tenantB, "ann", "admin", "t1"),
		map[string]any{"first_name": "Foreign"}).Want(t, http.StatusCreated).Str("id")

	// 10:00 in Vladivostok (UTC+10) is midnight UTC.
	r := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call Ivan", "kind": "call", "deal_id": deal, "contact_id": contact,
		"company_id": company, "due_local": "2027-01-15T10:00"}).Want(t, http.StatusCreated)
	task := r.Str("id")
	if r.Str("due_at") != "2027-01-15T00:00:00Z" || r.Str("deal_id") != deal || r.Str("contact_id") != contact || r.Str("company_id") != company {
		t.Fatalf("the task: %s", r.Raw)
	}
	if c, _ := r.Body["client"].(map[string]any); c["time_zone"] != "Asia/Vladivostok" || c["due_local"] != "2027-01-15T10:00" {
		t.Fatalf("the client's time: %s", r.Raw)
	}
	if r.Body["attempt"] != float64(1) || r.Body["previous_task_id"] != nil {
		t.Fatalf("the chain of a first task: %s", r.Raw)
	}
	// Listed by deal and by contact.
	for _, q := range []string{"deal_id=" + deal, "contact_id=" + contact} {
		if have := ids(h.do("GET", "/v1/tasks?"+q, rep).Want(t, http.StatusOK)); len(have) != 1 || have[0] != task {
			t.Errorf("?%s: have %v, want [%s]", q, have, task)
		}
	}
	h.do("GET", "/v1/tasks?deal_id=nope", rep).Want(t, http.StatusUnprocessableEntity)

	// Hidden, missing, another tenant's, deleted: the same refusal, nothing stored.
	for _, tc := range []struct{ field, id, what string }{
		{"contact_id", hidden, "contact"}, {"contact_id", uuid.NewString(), "contact"}, {"contact_id", foreign, "contact"},
		{"deal_id", hiddenDeal, "deal"}, {"deal_id", uuid.NewString(), "deal"}, {"company_id", uuid.NewString(), "company"},
	} {
		h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Sneak", tc.field: tc.id}).WantField(t, tc.field, "no such "+tc.what)
		h.do("PATCH", "/v1/tasks/"+task, rep, map[string]any{tc.field: tc.id}).Want(t, http.StatusUnprocessableEntity)
	}
	if have := ids(h.do("GET", "/v1/tasks", admin).Want(t, http.StatusOK)); len(have) != 1 {
		t.Fatalf("refused tasks were stored: %v", have)
	}
	if v := h.do("GET", "/v1/tasks/"+task, rep).Want(t, http.StatusOK).Body["version"]; v != float64(1) {
		t.Fatalf("a refused change changed the task: version %v", v)
	}
	// The client-local time needs a client whose zone is known.
	r = h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "When?", "due_local": "2027-01-15T10:00"}).Want(t, http.StatusUnprocessableEntity)
	r.WantField(t, "due_local", "needs the client's time zone: link a contact whose time zone is known")
	r = h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Twice", "contact_id": contact, "due_local": "2027-01-15T10:00",
		"due_at": "2027-01-15T00:00:00Z"}).Want(t, http.StatusUnprocessableEntity)
	r.WantField(t, "due_local", "give due_at or due_local (the client's local time), not both")
	r = h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Bad", "contact_id": contact, "due_local": "tomorrow"}).Want(t, http.StatusUnprocessableEntity)
	r.WantField(t, "due_local", "must be a client-local time such as 2027-01-15T10:00")

	// Unlinking the contact leaves the deal's contact as the client.
	r = h.do("PATCH", "/v1/tasks/"+task, rep, map[string]any{"contact_id": nil}, "If-Match", `"1"`).Want(t, http.StatusOK)
	if c, _ := r.Body["client"].(map[string]any); r.Body["contact_id"] != nil || c["time_zone"] != "Asia/Vladivostok" {
		t.Fatalf("a task about the deal only: %s", r.Raw)
	}
}

// The projection follows the contacts and sales services: a client who
// moves changes the local time of their open tasks, merged contacts' tasks
// move to the contact that remains, and a deleted contact can no longer be
// named.
func TestTheProjectionFollowsContactsAndDeals(t *testing.T) {
	h := startWithPeers(t)
	rep := h.Token(h.tenantA, "rep", "rep", "t1")
	admin := h.Token(h.tenantA, "ann", "admin", "t1")
	contact := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep,
		map[string]any{"first_name": "Olga", "timezone": "Europe/Moscow"}).Want(t, http.StatusCreated).Str("id")
	twin := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep,
		map[string]any{"first_name": "Olga", "last_name": "K."}).Want(t, http.StatusCreated).Str("id")
	task := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call Olga", "contact_id": contact}).Want(t, http.StatusCreated).Str("id")
	twinTask := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call Olga K.", "contact_id": twin}).Want(t, http.StatusCreated).Str("id")

	testenv.Call(t, "PATCH", h.contacts+"/v1/contacts/"+contact, rep, map[string]any{"timezone": "Asia/Novosibirsk"}, "If-Match", `"1"`).
		Want(t, http.StatusOK)
	testenv.Eventually(t, "the task's client time zone following the contact", func() bool {
		c, _ := h.do("GET", "/v1/tasks/"+task, rep).Want(t, http.StatusOK).Body["client"].(map[string]any)
		return c["time_zone"] == "Asia/Novosibirsk"
	})

	testenv.Call(t, "POST", h.contacts+"/v1/contacts/"+contact+"/merge", admin, map[string]any{"from": []string{twin}}, "If-Match", `"2"`).
		Want(t, http.StatusOK)
	testenv.Eventually(t, "the merged contact's task moving to the one that remains", func() bool {
		r := h.do("GET", "/v1/tasks/"+twinTask, rep).Want(t, http.StatusOK)
		return r.Str("contact_id") == contact
	})
	r := h.do("GET", "/v1/tasks/"+twinTask, rep).Want(t, http.StatusOK)
	if c, _ := r.Body["client"].(map[string]any); r.Body["version"] != float64(2) || c["time_zone"] != "Asia/Novosibirsk" {
		t.Fatalf("the moved task: %s", r.Raw)
	}
	testenv.Eventually(t, "the move on the tasks topic", func() bool {
		return len(testenv.EventsAbout(t, h.Brokers, catalog.TasksTopic, twinTask, 2)) == 2
	})
	// The merged contact is gone: it can no longer be named.
	r = h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call the twin", "contact_id": twin}).Want(t, http.StatusUnprocessableEntity)
	r.WantField(t, "contact_id", "no such contact")

	// Unmerged, the twin is itself again, with its task back; the
	// contact's own task stays.
	testenv.Call(t, "POST", h.contacts+"/v1/contacts/"+contact+"/unmerge", admin, nil).Want(t, http.StatusOK)
	testenv.Eventually(t, "the unmerged contact's task given back", func() bool {
		return h.do("GET", "/v1/tasks/"+twinTask, rep).Want(t, http.StatusOK).Str("contact_id") == twin
	})
	if r := h.do("GET", "/v1/tasks/"+twinTask, rep).Want(t, http.StatusOK); r.Body["version"] != float64(3) || r.Body["client"] != nil {
		t.Fatalf("the task given back: %s", r.Raw)
	}
	if c := h.do("GET", "/v1/tasks/"+task, rep).Want(t, http.StatusOK).Str("contact_id"); c != contact {
		t.Fatalf("the contact's own task moved to %s", c)
	}
	testenv.Eventually(t, "the restored contact known again", func() bool {
		return h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call the twin", "contact_id": twin}).Status == http.StatusCreated
	})
}

// The contact's timeline shows the tasks about the contact and how they ended.
func TestTheContactsTimelineShowsItsTasks(t *testing.T) {
	h := startWithPeers(t)
	rep := h.Token(h.tenantA, "rep", "rep", "t1")
	contact := testenv.Call(t, "POST", h.contacts+"/v1/contacts", rep, map[string]any{"first_name": "Pavel"}).Want(t, http.StatusCreated).Str("id")
	task := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call Pavel", "kind": "call", "contact_id": contact}).
		Want(t, http.StatusCreated).Str("id")
	h.do("POST", "/v1/tasks/"+task+"/complete", rep, map[string]any{"outcome": "reached", "result": "Agreed on a demo"}).Want(t, http.StatusOK)
	again := h.do("POST", "/v1/tasks", rep, map[string]any{"subject": "Call Pavel again", "kind": "call", "contact_id": contact}).
		Want(t, http.StatusCreated).Str("id")
	next := h.do("POST", "/v1/tasks/"+again+"/complete", rep, map[string]any{"outcome": "no_answer"}).Want(t, http.StatusOK).Member("next").Str("id")
	// In the timeline: the completed task with its outcome and result, and
	// the next attempt the ladder planned.
	has := func(typ string, match func(d map[string]any) bool) func() bool {
		return func() bool {
			r := testenv.Call(t, "GET", h.contacts+"/v1/contacts/"+contact+"/timeline", rep, nil).Want(t, http.StatusOK)
			for _, it := range r.Body["items"].([]any) {
				e := it.(map[string]any)
				if d, _ := e["data"].(map[string]any); e["type"] == typ && match(d) {
					return true
				}
			}
			return false
		}
	}
	testenv.Eventually(t, "the completed task in the contact's timeline", has(catalog.TaskCompleted, func(d map[string]any) bool {
		return d["task_id"] == task && d["outcome"] == "reached" && d["result"] == "Agreed on a demo" && d["subject"] == "Call Pavel"
	}))
	testenv.Eventually(t, "the next attempt in the contact's timeline", has(catalog.TaskRescheduled, func(d map[string]any) bool {
		return d["task_id"] == next && d["attempt"] == float64(2) && d["status"] == "open"
	}))
}
