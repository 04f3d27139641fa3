package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

func sourceValues(r testenv.Reply) []string {
	var out []string
	for _, it := range r.Body["items"].([]any) {
		out = append(out, it.(map[string]any)["value"].(string))
	}
	return out
}

// A tenant starts with lead sources in its language; a contact's source is
// one of them; admins replace them, and contacts keep the source they had.
func TestLeadSources(t *testing.T) {
	h := start(t)
	tok, rep := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantA, auth.RoleRep)
	list := h.do("GET", "/v1/lead-sources", rep, nil).Want(t, http.StatusOK)
	items := list.Body["items"].([]any)
	if len(items) != 9 || items[0].(map[string]any)["value"] != "website" || items[0].(map[string]any)["label"] != "Website" {
		t.Fatalf("defaults: %s", list.Raw)
	}
	// A Russian tenant's are labelled in Russian.
	ru := uuid.New()
	prov := tenancy.NewProvisioner(h.brokers, "/test")
	defer prov.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prov.Publish(ctx, &tenancyv1.TenantRecord{Id: ru.String(), Name: "ru", Generation: 1, Region: "local",
		DefaultCountry: "RU", Locale: "ru-RU"}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, ru.String(), 1, []string{app.Name}); err != nil {
		t.Fatal(err)
	}
	ruList := h.do("GET", "/v1/lead-sources", h.token(ru, auth.RoleRep), nil).Want(t, http.StatusOK)
	if ruList.Body["items"].([]any)[0].(map[string]any)["label"] != "Сайт" {
		t.Fatalf("Russian defaults: %s", ruList.Raw)
	}

	// A source is one of the list, in any case.
	c := h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "A", "source": "WebSite"}).Want(t, http.StatusCreated)
	if c.Body["source"] != "website" {
		t.Fatalf("source: %s", c.Raw)
	}
	bad := h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "B", "source": "billboard"}).Want(t, http.StatusUnprocessableEntity)
	if f := bad.FieldPaths(); len(f) != 1 || f[0] != "source" {
		t.Fatalf("fields: %v", f)
	}

	// Only admins replace the list, and only with a valid one.
	newList := map[string]any{"items": []map[string]string{{"value": "billboard", "label": "Билборд"}, {"value": "cold-call", "label": "Холодный звонок"}}}
	h.do("PUT", "/v1/lead-sources", rep, newList).Want(t, http.StatusForbidden)
	for name, tc := range map[string]struct {
		Body  any
		field string
	}{
		"empty":       {map[string]any{"items": []any{}}, "items"},
		"bad value":   {map[string]any{"items": []map[string]string{{"value": "Web Site", "label": "x"}}}, "items/0/value"},
		"twice":       {map[string]any{"items": []map[string]string{{"value": "a", "label": "x"}, {"value": "a", "label": "y"}}}, "items/1/value"},
		"no label":    {map[string]any{"items": []map[string]string{{"value": "a"}}}, "items/0/label"},
		"unknown key": {`{"items": [], "extra": 1}`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.field == "" {
				h.do("PUT", "/v1/lead-sources", tok, tc.Body).Want(t, http.StatusBadRequest)
				return
			}
			r := h.do("PUT", "/v1/lead-sources", tok, tc.Body).Want(t, http.StatusUnprocessableEntity)
			if f := r.FieldPaths(); len(f) == 0 || f[0] != tc.field {
				t.Fatalf("fields %v, want %s: %s", f, tc.field, r.Raw)
			}
		})
	}
	set := h.do("PUT", "/v1/lead-sources", tok, newList).Want(t, http.StatusOK)
	if got := sourceValues(set); len(got) != 2 || got[0] != "billboard" || got[1] != "cold-call" {
		t.Fatalf("set: %s", set.Raw)
	}
	if got := sourceValues(h.do("GET", "/v1/lead-sources", rep, nil).Want(t, http.StatusOK)); len(got) != 2 {
		t.Fatalf("after set: %v", got)
	}
	ev := readEventOfType(t, h.brokers, h.tenantA.String(), service.TypeLeadSourcesChanged)
	var m contactsv1.LeadSourcesChanged
	if err := ev.Unmarshal(&m); err != nil || len(m.GetSources()) != 2 || m.GetSources()[1].GetLabel() != "Холодный звонок" {
		t.Fatalf("event: %v %v", err, &m)
	}
	// Within the cache's life the old list may still apply; then the new one does.
	deadline := time.Now().Add(10 * time.Second)
	for h.do("POST", "/v1/contacts", rep, map[string]any{"first_name": "C", "source": "billboard"}).Status != http.StatusCreated {
		if time.Now().After(deadline) {
			t.Fatal("the new lead source is never accepted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The contact keeps its dropped source through other changes, but a
	// change of source must name a listed one.
	id := c.Body["id"].(string)
	if p := h.do("PATCH", "/v1/contacts/"+id, rep, map[string]any{"last_name": "Z"}).Want(t, http.StatusOK); p.Body["source"] != "website" {
		t.Fatalf("kept source: %s", p.Raw)
	}
	h.do("PATCH", "/v1/contacts/"+id, rep, map[string]any{"source": "email"}).Want(t, http.StatusUnprocessableEntity)

	// Another tenant's list is its own.
	if got := sourceValues(h.do("GET", "/v1/lead-sources", h.token(h.tenantB, auth.RoleAdmin), nil).Want(t, http.StatusOK)); len(got) != 9 {
		t.Fatalf("tenant B's lead sources changed: %v", got)
	}
}

// A merge fills the target's empty source with a merged contact's, even a
// source the tenant has since dropped from its list.
func TestMergeKeepsADroppedLeadSource(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	src := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"a@x.ru"}, "source": "website"}).
		Want(t, http.StatusCreated).Body["id"].(string)
	target := h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Анна", "emails": []string{"b@x.ru"}}).
		Want(t, http.StatusCreated).Body["id"].(string)
	h.do("PUT", "/v1/lead-sources", adm, map[string]any{"items": []map[string]string{{"value": "billboard", "label": "Билборд"}}}).
		Want(t, http.StatusOK)
	r := h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{src}}).Want(t, http.StatusOK)
	if r.Body["source"] != "website" {
		t.Fatalf("merged: %s", r.Raw)
	}
}

// An unmerge that hands the target's source over to a contact still
// merged in does not fail on a lead source the tenant has dropped; an
// empty list of contacts to unmerge is refused.
func TestUnmergeKeepsADroppedLeadSource(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	mk := func(email, source string) string {
		body := map[string]any{"first_name": "Анна", "emails": []string{email}}
		if source != "" {
			body["source"] = source
		}
		return h.do("POST", "/v1/contacts", adm, body).Want(t, http.StatusCreated).Body["id"].(string)
	}
	s1, s2, target := mk("a1@x.ru", "website"), mk("a2@x.ru", "referral"), mk("a3@x.ru", "")
	h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{s1, s2}}).Want(t, http.StatusOK)
	h.do("PUT", "/v1/lead-sources", adm, map[string]any{"items": []map[string]string{{"value": "billboard", "label": "Билборд"}}}).
		Want(t, http.StatusOK)
	h.do("POST", "/v1/contacts/"+target+"/unmerge", adm, map[string]any{"contacts": []string{}}).Want(t, http.StatusUnprocessableEntity)
	r := h.do("POST", "/v1/contacts/"+target+"/unmerge", adm, map[string]any{"contacts": []string{s1}}).Want(t, http.StatusOK)
	if src := r.Body["contact"].(map[string]any)["source"]; src != "referral" && src != "website" {
		t.Fatalf("target after unmerge: %s", r.Raw)
	}
}
