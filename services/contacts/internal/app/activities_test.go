package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
)

func TestActivities(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	contact := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	company := h.do("POST", "/v1/companies", tok, map[string]any{"name": "Ромашка"}).Want(t, http.StatusCreated).Body["id"].(string)
	call := map[string]any{"kind": "call", "direction": "outbound", "outcome": "no answer", "duration_seconds": 35,
		"occurred_at": "2026-11-20T10:00:00+03:00", "subject": "Первый звонок", "contact_id": contact, "company_id": company}
	r := h.do("POST", "/v1/activities", tok, call).Want(t, http.StatusCreated)
	id := r.Body["id"].(string)
	if r.Header.Get("Location") != "/v1/activities/"+id || r.Body["occurred_at"] != "2026-11-20T07:00:00Z" ||
		r.Body["owner_id"] != "rep-user" || r.Body["duration_seconds"].(float64) != 35 || r.Body["deal_id"] != nil {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("GET", "/v1/activities/"+id, tok, nil).Want(t, http.StatusOK)
	note := h.do("POST", "/v1/activities", tok, map[string]any{"kind": "note", "body": "Просит счёт", "contact_id": contact}).Want(t, http.StatusCreated)
	if note.Body["direction"] != nil {
		t.Fatalf("have %s", note.Raw)
	}
	// Newest first; a company sees only its own.
	l := h.do("GET", "/v1/activities?contact_id="+contact+"&limit=1", tok, nil).Want(t, http.StatusOK)
	if items := l.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["kind"] != "note" {
		t.Fatalf("first page %s", l.Raw)
	}
	l = h.do("GET", "/v1/activities?contact_id="+contact+"&cursor="+l.Body["next_cursor"].(string), tok, nil).Want(t, http.StatusOK)
	if items := l.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id || l.Body["next_cursor"] != nil {
		t.Fatalf("second page %s", l.Raw)
	}
	if items := h.do("GET", "/v1/activities?company_id="+company, tok, nil).Want(t, http.StatusOK).Body["items"].([]any); len(items) != 1 {
		t.Fatalf("company's activities: %v", items)
	}

	// Bad input.
	for name, tc := range map[string]struct {
		Body   map[string]any
		fields string
	}{
		"kind and direction": {map[string]any{"kind": "telegram", "direction": "sideways", "contact_id": contact}, "kind,direction"},
		"a note's direction": {map[string]any{"kind": "note", "direction": "inbound", "contact_id": contact}, "direction"},
		"time and duration":  {map[string]any{"kind": "call", "duration_seconds": -5, "occurred_at": "2099-01-01T00:00:00Z", "contact_id": contact}, "duration_seconds,occurred_at"},
		"about nobody":       {map[string]any{"kind": "call"}, "contact_id"},
		"bad ids":            {map[string]any{"kind": "call", "contact_id": "anna", "occurred_at": "yesterday"}, "contact_id,occurred_at"},
		"unknown contact":    {map[string]any{"kind": "call", "contact_id": uuid.NewString()}, "contact_id"},
		"unknown company":    {map[string]any{"kind": "call", "company_id": uuid.NewString()}, "company_id"},
	} {
		r := h.do("POST", "/v1/activities", tok, tc.Body).Want(t, http.StatusUnprocessableEntity)
		if f := strings.Join(r.FieldPaths(), ","); f != tc.fields {
			t.Errorf("%s: fields %s, want %s", name, f, tc.fields)
		}
	}

	// Another tenant sees none of it and cannot log against it.
	b := h.token(h.tenantB, auth.RoleAdmin)
	h.do("GET", "/v1/activities/"+id, b, nil).Want(t, http.StatusNotFound)
	h.do("DELETE", "/v1/activities/"+id, b, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/activities?contact_id="+contact, b, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/activities?company_id="+company, b, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/contacts/"+contact+"/timeline", b, nil).Want(t, http.StatusNotFound)
	r = h.do("POST", "/v1/activities", b, map[string]any{"kind": "call", "contact_id": contact}).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "contact_id" {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("POST", "/v1/activities", h.token(h.tenantA, auth.RoleViewer), call).Want(t, http.StatusForbidden)

	h.do("DELETE", "/v1/activities/"+id, tok, nil).Want(t, http.StatusNoContent)
	h.do("GET", "/v1/activities/"+id, tok, nil).Want(t, http.StatusNotFound)

	// Deleting a company drops its own activities and keeps those that
	// concern a contact, without the company.
	own := h.do("POST", "/v1/activities", tok, map[string]any{"kind": "visit", "company_id": company}).Want(t, http.StatusCreated).Body["id"].(string)
	both := h.do("POST", "/v1/activities", tok, map[string]any{"kind": "email", "contact_id": contact, "company_id": company}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("DELETE", "/v1/companies/"+company, tok, nil).Want(t, http.StatusNoContent)
	h.do("GET", "/v1/activities/"+own, tok, nil).Want(t, http.StatusNotFound)
	if g := h.do("GET", "/v1/activities/"+both, tok, nil).Want(t, http.StatusOK); g.Body["company_id"] != nil || g.Body["contact_id"] != contact {
		t.Fatalf("the contact's activity after the company's deletion: %s", g.Raw)
	}
}

// A contact's timeline shows, newest first, its own changes, its activities
// (when they happened) and what other services publish about it.
func TestTimeline(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	contact := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	other := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Олег"}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("PATCH", "/v1/contacts/"+contact, tok, map[string]any{"position": "CFO"}).Want(t, http.StatusOK)
	past := h.do("POST", "/v1/activities", tok, map[string]any{"kind": "meeting", "subject": "Знакомство",
		"occurred_at": "2026-01-15T12:00:00Z", "contact_id": contact}).Want(t, http.StatusCreated).Body["id"].(string)

	// A deal service publishes about the contact (and another tenant's id,
	// which must not land anywhere).
	w := events.NewWriter(h.brokers)
	defer w.Close()
	deal, err := events.New("crm.sales.events.v1", "/rapport/sales", "crm.deal.won", h.tenantA, "deal-7", wrapperspb.String("won"))
	if err != nil {
		t.Fatal(err)
	}
	deal.Extensions = map[string]string{events.ExtContactID: contact + "," + uuid.NewString()}
	if err := events.Publish(context.Background(), w, deal, deal); err != nil { // delivered twice
		t.Fatal(err)
	}

	types := func() []string {
		r := h.do("GET", "/v1/contacts/"+contact+"/timeline", tok, nil).Want(t, http.StatusOK)
		var out []string
		for _, it := range r.Body["items"].([]any) {
			out = append(out, it.(map[string]any)["type"].(string))
		}
		return out
	}
	want := "crm.deal.won,crm.contact.updated,crm.contact.created,crm.activity.logged"
	deadline := time.Now().Add(20 * time.Second)
	for strings.Join(types(), ",") != want {
		if time.Now().After(deadline) {
			t.Fatalf("timeline %v, want %s", types(), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := h.do("GET", "/v1/contacts/"+contact+"/timeline?limit=2", tok, nil).Want(t, http.StatusOK)
	first := r.Body["items"].([]any)
	if first[0].(map[string]any)["data"].(map[string]any)["subject"] != "deal-7" || first[0].(map[string]any)["source"] != "/rapport/sales" {
		t.Fatalf("deal entry %v", first[0])
	}
	if changed := first[1].(map[string]any)["data"].(map[string]any)["changed_fields"].([]any); len(changed) != 1 || changed[0] != "position" {
		t.Fatalf("update entry %v", first[1])
	}
	rest := h.do("GET", "/v1/contacts/"+contact+"/timeline?limit=2&cursor="+r.Body["next_cursor"].(string), tok, nil).Want(t, http.StatusOK)
	last := rest.Body["items"].([]any)
	if len(last) != 2 || last[1].(map[string]any)["at"] != "2026-01-15T12:00:00Z" || last[1].(map[string]any)["actor"] != "rep-user" {
		t.Fatalf("second page %s", rest.Raw)
	}
	// Another contact's timeline holds only its own creation.
	if o := h.do("GET", "/v1/contacts/"+other+"/timeline", tok, nil).Want(t, http.StatusOK); len(o.Body["items"].([]any)) > 1 {
		t.Fatalf("other contact's timeline %s", o.Raw)
	}
	// A deleted activity leaves the timeline.
	h.do("DELETE", "/v1/activities/"+past, tok, nil).Want(t, http.StatusNoContent)
	want = "crm.deal.won,crm.contact.updated,crm.contact.created"
	deadline = time.Now().Add(20 * time.Second)
	for strings.Join(types(), ",") != want {
		if time.Now().After(deadline) {
			t.Fatalf("timeline %v, want %s", types(), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.do("GET", "/v1/contacts/"+uuid.NewString()+"/timeline", tok, nil).Want(t, http.StatusNotFound)
}

// Another service's event about a contact merged since lands in the
// timeline of the contact it was merged into.
func TestTimelineFollowsMerges(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	merged := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна", "emails": []string{"a@x.ru"}}).Want(t, http.StatusCreated).Body["id"].(string)
	target := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна", "emails": []string{"b@x.ru"}}).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/contacts/"+target+"/merge", tok, map[string]any{"from": []string{merged}}).Want(t, http.StatusOK)
	w := events.NewWriter(h.brokers)
	defer w.Close()
	deal, err := events.New("crm.sales.events.v1", "/rapport/sales", "crm.deal.created", h.tenantA, "deal-9", wrapperspb.String("new"))
	if err != nil {
		t.Fatal(err)
	}
	deal.Extensions = map[string]string{events.ExtContactID: merged}
	if err := events.Publish(context.Background(), w, deal); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := h.do("GET", "/v1/contacts/"+target+"/timeline", tok, nil).Want(t, http.StatusOK)
		if items := r.Body["items"].([]any); len(items) > 0 && items[0].(map[string]any)["type"] == "crm.deal.created" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deal never reached the target's timeline: %s", r.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
