package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// An admin exports everything held about a person, and erases it for real.
func TestDataExportAndErasure(t *testing.T) {
	h := start(t)
	rep, adm := h.token(h.tenantA, auth.RoleRep), h.token(h.tenantA, auth.RoleAdmin)
	company := h.do("POST", "/v1/companies", rep, map[string]any{"name": "Ромашка"}).want(t, http.StatusCreated).body["id"].(string)
	withCompany := map[string]any{"first_name": "Анна", "last_name": "Иванова", "emails": []string{"anna@example.ru"},
		"phones": []string{"+7 912 000-00-00"}, "tags": []string{"vip"}, "company_id": company}
	id := h.do("POST", "/v1/contacts", rep, withCompany, "Idempotency-Key", "create-anna").want(t, http.StatusCreated).body["id"].(string)
	call := h.do("POST", "/v1/activities", rep, map[string]any{"kind": "call", "subject": "Счёт для Анны", "contact_id": id}).
		want(t, http.StatusCreated).body["id"].(string)
	h.do("POST", "/v1/activities", rep, map[string]any{"kind": "note", "body": "Любит звонки по утрам", "contact_id": id}).want(t, http.StatusCreated)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n := len(h.do("GET", "/v1/contacts/"+id+"/timeline", rep, nil).want(t, http.StatusOK).body["items"].([]any)); n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timeline never filled")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Export: admins only, another tenant's id is a 404.
	h.do("GET", "/v1/contacts/"+id+"/data-export", rep, nil).want(t, http.StatusForbidden)
	h.do("GET", "/v1/contacts/"+id+"/data-export", h.token(h.tenantB, auth.RoleAdmin), nil).want(t, http.StatusNotFound)
	x := h.do("GET", "/v1/contacts/"+id+"/data-export", adm, nil).want(t, http.StatusOK)
	if !strings.Contains(x.header.Get("Content-Disposition"), "contact-"+id+".json") {
		t.Errorf("Content-Disposition %q", x.header.Get("Content-Disposition"))
	}
	c := x.body["contact"].(map[string]any)
	if c["emails"].([]any)[0] != "anna@example.ru" || len(x.body["activities"].([]any)) != 2 || len(x.body["timeline"].([]any)) != 3 {
		t.Fatalf("export %s", x.raw)
	}

	// Erase: admins only, another tenant's id is a 404.
	h.do("POST", "/v1/contacts/"+id+"/erase", rep, nil).want(t, http.StatusForbidden)
	h.do("POST", "/v1/contacts/"+id+"/erase", h.token(h.tenantB, auth.RoleAdmin), nil).want(t, http.StatusNotFound)
	e := h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil).want(t, http.StatusOK)
	if e.body["first_name"] != "" || e.body["last_name"] != "" || len(e.body["emails"].([]any)) != 0 || len(e.body["phones"].([]any)) != 0 ||
		len(e.body["tags"].([]any)) != 0 || e.body["erased_at"] == nil || e.body["owner_id"] != "rep-user" {
		t.Fatalf("erased contact %s", e.raw)
	}
	var erased contactsv1.ContactErased
	ev := readEventOfType(t, h.brokers, id, "crm.contact.erased")
	if err := ev.Unmarshal(&erased); err != nil || erased.GetId() != id || erased.GetActorId() != "admin-user" {
		t.Fatalf("event %v %v", &erased, err)
	}
	// Nothing personal is left: not the record, not the activities, not
	// the timeline, not the channels.
	g := h.do("GET", "/v1/contacts/"+id, rep, nil).want(t, http.StatusOK)
	if g.body["first_name"] != "" || g.body["erased_at"] == nil {
		t.Fatalf("after erasure %s", g.raw)
	}
	h.do("GET", "/v1/activities/"+call, rep, nil).want(t, http.StatusNotFound)
	if tl := h.do("GET", "/v1/contacts/"+id+"/timeline", rep, nil).want(t, http.StatusOK); len(tl.body["items"].([]any)) != 0 {
		t.Fatalf("timeline after erasure %s", tl.raw)
	}
	for _, q := range []string{"anna@example.ru", "Анна", "+7 912 000-00-00"} {
		if l := h.do("GET", "/v1/contacts?q="+url.QueryEscape(q), rep, nil).want(t, http.StatusOK); len(l.body["items"].([]any)) != 0 {
			t.Fatalf("q=%s finds the erased contact: %s", q, l.raw)
		}
	}
	x = h.do("GET", "/v1/contacts/"+id+"/data-export", adm, nil).want(t, http.StatusOK)
	if strings.Contains(string(x.raw), "Анна") || strings.Contains(string(x.raw), "anna@") || strings.Contains(string(x.raw), "утрам") {
		t.Fatalf("export after erasure still holds personal data: %s", x.raw)
	}
	// The person may come back as a new contact; the erased record stays erased.
	h.do("POST", "/v1/contacts", rep, anna).want(t, http.StatusCreated)
	r := h.do("PATCH", "/v1/contacts/"+id, rep, map[string]any{"first_name": "Анна"}).want(t, http.StatusConflict)
	if !strings.HasSuffix(r.body["type"].(string), "/contact-erased") {
		t.Fatalf("have %s", r.raw)
	}
	// A retry of the original create no longer replays her data: it runs,
	// and meets the new Анна.
	again := h.do("POST", "/v1/contacts", rep, withCompany, "Idempotency-Key", "create-anna").want(t, http.StatusConflict)
	if again.header.Get("Idempotent-Replayed") != "" || strings.Contains(string(again.raw), id) {
		t.Fatalf("the stored answer survived the erasure: %s", again.raw)
	}
	// The erased record no longer ties her to the company, which can go.
	h.do("DELETE", "/v1/companies/"+company, adm, nil).want(t, http.StatusNoContent)
	h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil).want(t, http.StatusConflict)
	h.do("POST", "/v1/activities", rep, map[string]any{"kind": "note", "body": "Анна перезвонила", "contact_id": id}).want(t, http.StatusConflict)
	h.do("POST", "/v1/contacts/"+uuid.NewString()+"/erase", adm, nil).want(t, http.StatusNotFound)
}

// A data export shows the records merged into the contact, which the
// service keeps for an unmerge.
func TestDataExportIncludesMergedRecords(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	src := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"anna@old.ru"}}).want(t, http.StatusCreated).body["id"].(string)
	target := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"anna@new.ru"}}).want(t, http.StatusCreated).body["id"].(string)
	x := h.do("GET", "/v1/contacts/"+target+"/data-export", adm, nil).want(t, http.StatusOK)
	if merged := x.body["merged"].([]any); len(merged) != 0 {
		t.Fatalf("merged before any merge: %v", merged)
	}
	h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{src}}).want(t, http.StatusOK)
	x = h.do("GET", "/v1/contacts/"+target+"/data-export", adm, nil).want(t, http.StatusOK)
	merged := x.body["merged"].([]any)
	if len(merged) != 1 {
		t.Fatalf("merged: %s", x.raw)
	}
	m := merged[0].(map[string]any)
	if m["contact_id"] != src || m["record"].(map[string]any)["emails"].([]any)[0] != "anna@old.ru" {
		t.Fatalf("merged record: %v", m)
	}
}

// Erasing a contact also forgets the stored answers that show the contacts
// merged into it: a retry of their creation no longer replays their data.
func TestEraseForgetsAnswersAboutMergedContacts(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	body := map[string]any{"first_name": "Анна", "emails": []string{"anna@old.ru"}}
	src := h.do("POST", "/v1/contacts", adm, body, "Idempotency-Key", "create-old-anna").want(t, http.StatusCreated).body["id"].(string)
	target := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"anna@new.ru"}}).
		want(t, http.StatusCreated).body["id"].(string)
	h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{src}}).want(t, http.StatusOK)
	if r := h.do("POST", "/v1/contacts", adm, body, "Idempotency-Key", "create-old-anna"); r.header.Get("Idempotent-Replayed") == "" {
		t.Fatalf("setup: the create is not replayed before the erasure: %d %s", r.status, r.raw)
	}
	h.do("POST", "/v1/contacts/"+target+"/erase", adm, nil).want(t, http.StatusOK)
	again := h.do("POST", "/v1/contacts", adm, body, "Idempotency-Key", "create-old-anna")
	if again.header.Get("Idempotent-Replayed") != "" || strings.Contains(string(again.raw), src) {
		t.Fatalf("the stored answer about the merged contact survived the erasure: %s", again.raw)
	}
}
