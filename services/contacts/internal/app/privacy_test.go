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
	company := h.do("POST", "/v1/companies", rep, map[string]any{"name": "Ромашка"}).Want(t, http.StatusCreated).Body["id"].(string)
	withCompany := map[string]any{"first_name": "Анна", "last_name": "Иванова", "emails": []string{"anna@example.ru"},
		"phones": []string{"+7 912 000-00-00"}, "tags": []string{"vip"}, "company_id": company}
	id := h.do("POST", "/v1/contacts", rep, withCompany, "Idempotency-Key", "create-anna").Want(t, http.StatusCreated).Body["id"].(string)
	call := h.do("POST", "/v1/activities", rep, map[string]any{"kind": "call", "subject": "Счёт для Анны", "contact_id": id}).
		Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/activities", rep, map[string]any{"kind": "note", "body": "Любит звонки по утрам", "contact_id": id}).Want(t, http.StatusCreated)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n := len(h.do("GET", "/v1/contacts/"+id+"/timeline", rep, nil).Want(t, http.StatusOK).Body["items"].([]any)); n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timeline never filled")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Export: admins only, another tenant's id is a 404.
	h.do("GET", "/v1/contacts/"+id+"/data-export", rep, nil).Want(t, http.StatusForbidden)
	h.do("GET", "/v1/contacts/"+id+"/data-export", h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusNotFound)
	x := h.do("GET", "/v1/contacts/"+id+"/data-export", adm, nil).Want(t, http.StatusOK)
	if !strings.Contains(x.Header.Get("Content-Disposition"), "contact-"+id+".json") {
		t.Errorf("Content-Disposition %q", x.Header.Get("Content-Disposition"))
	}
	c := x.Body["contact"].(map[string]any)
	if c["emails"].([]any)[0] != "anna@example.ru" || len(x.Body["activities"].([]any)) != 2 || len(x.Body["timeline"].([]any)) != 3 {
		t.Fatalf("export %s", x.Raw)
	}

	// Erase: admins only, another tenant's id is a 404.
	h.do("POST", "/v1/contacts/"+id+"/erase", rep, nil).Want(t, http.StatusForbidden)
	h.do("POST", "/v1/contacts/"+id+"/erase", h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusNotFound)
	e := h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil).Want(t, http.StatusOK)
	if e.Body["first_name"] != "" || e.Body["last_name"] != "" || len(e.Body["emails"].([]any)) != 0 || len(e.Body["phones"].([]any)) != 0 ||
		len(e.Body["tags"].([]any)) != 0 || e.Body["erased_at"] == nil || e.Body["owner_id"] != "rep-user" {
		t.Fatalf("erased contact %s", e.Raw)
	}
	var erased contactsv1.ContactErased
	ev := readEventOfType(t, h.brokers, id, "crm.contact.erased")
	if err := ev.Unmarshal(&erased); err != nil || erased.GetId() != id || erased.GetActorId() != "admin-user" {
		t.Fatalf("event %v %v", &erased, err)
	}
	// Nothing personal is left: not the record, not the activities, not
	// the timeline, not the channels.
	g := h.do("GET", "/v1/contacts/"+id, rep, nil).Want(t, http.StatusOK)
	if g.Body["first_name"] != "" || g.Body["erased_at"] == nil {
		t.Fatalf("after erasure %s", g.Raw)
	}
	h.do("GET", "/v1/activities/"+call, rep, nil).Want(t, http.StatusNotFound)
	if tl := h.do("GET", "/v1/contacts/"+id+"/timeline", rep, nil).Want(t, http.StatusOK); len(tl.Body["items"].([]any)) != 0 {
		t.Fatalf("timeline after erasure %s", tl.Raw)
	}
	for _, q := range []string{"anna@example.ru", "Анна", "+7 912 000-00-00"} {
		if l := h.do("GET", "/v1/contacts?q="+url.QueryEscape(q), rep, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
			t.Fatalf("q=%s finds the erased contact: %s", q, l.Raw)
		}
	}
	x = h.do("GET", "/v1/contacts/"+id+"/data-export", adm, nil).Want(t, http.StatusOK)
	if strings.Contains(string(x.Raw), "Анна") || strings.Contains(string(x.Raw), "anna@") || strings.Contains(string(x.Raw), "утрам") {
		t.Fatalf("export after erasure still holds personal data: %s", x.Raw)
	}
	// The person may come back as a new contact; the erased record stays erased.
	h.do("POST", "/v1/contacts", rep, anna).Want(t, http.StatusCreated)
	r := h.do("PATCH", "/v1/contacts/"+id, rep, map[string]any{"first_name": "Анна"}).Want(t, http.StatusConflict)
	if !strings.HasSuffix(r.Body["type"].(string), "/contact-erased") {
		t.Fatalf("have %s", r.Raw)
	}
	// A retry of the original create no longer replays her data: it runs,
	// and meets the new Анна.
	again := h.do("POST", "/v1/contacts", rep, withCompany, "Idempotency-Key", "create-anna").Want(t, http.StatusConflict)
	if again.Header.Get("Idempotent-Replayed") != "" || strings.Contains(string(again.Raw), id) {
		t.Fatalf("the stored answer survived the erasure: %s", again.Raw)
	}
	// The erased record no longer ties her to the company, which can go.
	h.do("DELETE", "/v1/companies/"+company, adm, nil).Want(t, http.StatusNoContent)
	h.do("POST", "/v1/contacts/"+id+"/erase", adm, nil).Want(t, http.StatusConflict)
	h.do("POST", "/v1/activities", rep, map[string]any{"kind": "note", "body": "Анна перезвонила", "contact_id": id}).Want(t, http.StatusConflict)
	h.do("POST", "/v1/contacts/"+uuid.NewString()+"/erase", adm, nil).Want(t, http.StatusNotFound)
}

// A data export shows the records merged into the contact, which the
// service keeps for an unmerge.
func TestDataExportIncludesMergedRecords(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	src := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"anna@old.ru"}}).Want(t, http.StatusCreated).Body["id"].(string)
	target := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"anna@new.ru"}}).Want(t, http.StatusCreated).Body["id"].(string)
	x := h.do("GET", "/v1/contacts/"+target+"/data-export", adm, nil).Want(t, http.StatusOK)
	if merged := x.Body["merged"].([]any); len(merged) != 0 {
		t.Fatalf("merged before any merge: %v", merged)
	}
	h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{src}}).Want(t, http.StatusOK)
	x = h.do("GET", "/v1/contacts/"+target+"/data-export", adm, nil).Want(t, http.StatusOK)
	merged := x.Body["merged"].([]any)
	if len(merged) != 1 {
		t.Fatalf("merged: %s", x.Raw)
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
	src := h.do("POST", "/v1/contacts", adm, body, "Idempotency-Key", "create-old-anna").Want(t, http.StatusCreated).Body["id"].(string)
	target := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"anna@new.ru"}}).
		Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{src}}).Want(t, http.StatusOK)
	if r := h.do("POST", "/v1/contacts", adm, body, "Idempotency-Key", "create-old-anna"); r.Header.Get("Idempotent-Replayed") == "" {
		t.Fatalf("setup: the create is not replayed before the erasure: %d %s", r.Status, r.Raw)
	}
	h.do("POST", "/v1/contacts/"+target+"/erase", adm, nil).Want(t, http.StatusOK)
	again := h.do("POST", "/v1/contacts", adm, body, "Idempotency-Key", "create-old-anna")
	if again.Header.Get("Idempotent-Replayed") != "" || strings.Contains(string(again.Raw), src) {
		t.Fatalf("the stored answer about the merged contact survived the erasure: %s", again.Raw)
	}
}
