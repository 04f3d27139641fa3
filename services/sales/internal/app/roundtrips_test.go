package app_test

import (
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// dbCalls is what the request that answered r sent to PostgreSQL, from its
// trace: its round trips (each statement on its own, each pipeline once)
// and the names of those, such as "COMMIT".
func dbCalls(t *testing.T, spans *tracetest.SpanRecorder, r reply) []string {
	t.Helper()
	ended := spans.Ended()
	id := serverSpan(t, ended, r.Header.Get(httpkit.HeaderRequestID)).SpanContext().TraceID()
	db := map[trace.SpanID]bool{}
	var mine []sdktrace.ReadOnlySpan
	for _, s := range ended {
		if s.SpanContext().TraceID() == id && s.SpanKind() == trace.SpanKindClient && attr(s, "db.system.name") == "postgresql" {
			db[s.SpanContext().SpanID()] = true
			mine = append(mine, s)
		}
	}
	var calls []string
	for _, s := range mine {
		if !db[s.Parent().SpanID()] && s.Name() != "connect" {
			calls = append(calls, s.Name())
		}
	}
	return calls
}

func count(calls []string, name string) int {
	n := 0
	for _, c := range calls {
		if c == name {
			n++
		}
	}
	return n
}

// The references a write names are read with the write, in its own
// transaction: naming a contact and a company costs one round trip more
// than naming neither (it cost six: a transaction for each).
func TestAWriteReadsItsReferencesWithTheWrite(t *testing.T) {
	spans := testenv.Spans(t)
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	contact, company := h.contact(h.tenantA, "Анна", "Иванова"), h.company(h.tenantA, "Акме")
	// Connections and their prepared statements are warm for both.
	for range 3 {
		h.do("POST", "/v1/deals", rep, map[string]any{"title": "warm", "contact_id": contact, "company_id": company}).Want(t, http.StatusCreated)
	}
	plain := dbCalls(t, spans, h.do("POST", "/v1/deals", rep, map[string]any{"title": "plain"}).Want(t, http.StatusCreated))
	named := dbCalls(t, spans, h.do("POST", "/v1/deals", rep, map[string]any{"title": "named", "contact_id": contact, "company_id": company}).Want(t, http.StatusCreated))
	t.Logf("POST: %d round trips, %d naming a contact and a company", len(plain), len(named))
	if n := count(plain, "SELECT currency_rates"); n != 1 {
		t.Errorf("POST read the rates %d times, want once:\n%v", n, plain)
	}
	if len(named) > len(plain)+1 || count(named, "COMMIT") != 1 {
		t.Errorf("POST naming a contact and a company: %d round trips, %d without them; want at most one more, and one commit:\n%v", len(named), len(plain), named)
	}

	id := h.do("POST", "/v1/deals", rep, map[string]any{"title": "changed"}).Want(t, http.StatusCreated).Str("id")
	title := dbCalls(t, spans, h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"title": "renamed"}).Want(t, http.StatusOK))
	renamed := dbCalls(t, spans, h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"contact_id": contact, "company_id": company}).Want(t, http.StatusOK))
	t.Logf("PATCH: %d round trips for a title, %d naming a contact and a company", len(title), len(renamed))
	if len(renamed) > len(title)+1 || count(renamed, "COMMIT") != 1 {
		t.Errorf("PATCH naming a contact and a company: %d round trips, %d for a title; want at most one more, and one commit:\n%v", len(renamed), len(title), renamed)
	}
}

// What the contacts service answers about a record sales did not hold
// joins the projection in the write's own transaction, not in one of its
// own: the request commits once.
func TestContactsAnswerJoinsTheProjectionWithTheWrite(t *testing.T) {
	spans := testenv.Spans(t)
	h := startWithContacts(t)
	ann := h.userToken(h.tenantA, "ann", auth.RoleRep, "team-1")
	contact := testenv.Call(t, "POST", h.contactsURL+"/v1/contacts", ann, map[string]any{"first_name": "Анна", "last_name": "Иванова"}).Want(t, 201).Str("id")
	company := testenv.Call(t, "POST", h.contactsURL+"/v1/companies", ann, map[string]any{"name": "Акме"}).Want(t, 201).Str("id")
	calls := dbCalls(t, spans, h.do("POST", "/v1/deals", ann, map[string]any{"title": "x", "contact_id": contact, "company_id": company}).Want(t, http.StatusCreated))
	t.Logf("%d round trips: %v", len(calls), calls)
	if count(calls, "COMMIT") != 1 {
		t.Errorf("%d commits, want the write's only:\n%v", count(calls, "COMMIT"), calls)
	}
	if h.query(h.tenantA, "select count(*) from contacts where id = $1 and visibility_known", contact) != 1 ||
		h.query(h.tenantA, "select count(*) from companies where id = $1", company) != 1 {
		t.Error("contacts' answers did not join the projection")
	}
}
