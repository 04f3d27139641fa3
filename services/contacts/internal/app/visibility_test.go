package app_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

func (h *harness) tokenFor(tenant uuid.UUID, user, team, role string) string {
	tok, err := h.issuer.Token(auth.Principal{TenantID: tenant, UserID: user, Roles: []string{role}, Team: team}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// Reps see their own contacts and what is shared with them or their team,
// managers (and viewers) their team's, admins and analysts all — in reads,
// lists, search, timelines and activities alike.
func TestVisibility(t *testing.T) {
	h := start(t)
	tok := func(user, team, role string) string { return h.tokenFor(h.tenantA, user, team, role) }
	rep1, rep2, rep3 := tok("rep1", "north", auth.RoleRep), tok("rep2", "north", auth.RoleRep), tok("rep3", "south", auth.RoleRep)
	a := h.do("POST", "/v1/contacts", rep1, map[string]any{"first_name": "Alpha"}).want(t, http.StatusCreated)
	if a.body["team"] != "north" || a.body["owner_id"] != "rep1" {
		t.Fatalf("team and owner default to the creator's: %s", a.raw)
	}
	b := h.do("POST", "/v1/contacts", rep2, map[string]any{"first_name": "Bravo", "shared_with": map[string]any{"users": []string{"rep3"}}}).
		want(t, http.StatusCreated).body["id"].(string)
	h.do("POST", "/v1/contacts", rep3, map[string]any{"first_name": "Charlie", "shared_with": map[string]any{"teams": []string{"north"}}}).
		want(t, http.StatusCreated)
	activity := h.do("POST", "/v1/activities", rep2, map[string]any{"kind": "call", "subject": "Bravo call", "contact_id": b}).
		want(t, http.StatusCreated).body["id"].(string)

	sees := func(token, query string) string {
		t.Helper()
		var out []string
		for _, it := range h.do("GET", "/v1/contacts?"+query, token, nil).want(t, http.StatusOK).body["items"].([]any) {
			out = append(out, it.(map[string]any)["first_name"].(string))
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for name, tc := range map[string]struct{ token, want string }{
		"rep1 (own, shared with the team)": {rep1, "Alpha,Charlie"},
		"rep3 (own, shared with the user)": {rep3, "Bravo,Charlie"},
		"manager north (team, shared)":     {tok("m1", "north", auth.RoleManager), "Alpha,Bravo,Charlie"},
		"manager south (team)":             {tok("m2", "south", auth.RoleManager), "Charlie"},
		"viewer north (team, read-only)":   {tok("v1", "north", auth.RoleViewer), "Alpha,Bravo,Charlie"},
		"analyst (all)":                    {tok("an", "", auth.RoleAnalyst), "Alpha,Bravo,Charlie"},
		"admin (all)":                      {tok("ad", "", auth.RoleAdmin), "Alpha,Bravo,Charlie"},
		"rep without a team (own only)":    {tok("rep4", "", auth.RoleRep), ""},
		"rep1 searching Bravo":             {rep1, ""},
	} {
		query := ""
		if strings.HasSuffix(name, "searching Bravo") {
			query = "q=" + url.QueryEscape("bravo")
		}
		if have := sees(tc.token, query); have != tc.want {
			t.Errorf("%s: sees %q, want %q", name, have, tc.want)
		}
	}

	// A contact one cannot see is a 404 everywhere, like another tenant's.
	for _, req := range []struct{ method, path string }{
		{"GET", "/v1/contacts/" + b}, {"PATCH", "/v1/contacts/" + b}, {"DELETE", "/v1/contacts/" + b},
		{"GET", "/v1/contacts/" + b + "/timeline"}, {"GET", "/v1/activities?contact_id=" + b},
		{"GET", "/v1/activities/" + activity}, {"DELETE", "/v1/activities/" + activity},
	} {
		var body any
		if req.method == "PATCH" {
			body = map[string]any{"first_name": "Hijacked"}
		}
		h.do(req.method, req.path, rep1, body).want(t, http.StatusNotFound)
	}
	r := h.do("POST", "/v1/activities", rep1, map[string]any{"kind": "note", "contact_id": b}).want(t, http.StatusUnprocessableEntity)
	if f := r.fields(); len(f) != 1 || f[0] != "contact_id" {
		t.Fatalf("have %s", r.raw)
	}
	if l := h.do("GET", "/v1/activities", rep1, nil).want(t, http.StatusOK); len(l.body["items"].([]any)) != 0 {
		t.Fatalf("rep1 lists activities of a contact they cannot see: %s", l.raw)
	}
	// rep3, with whom Bravo is shared, reads it and its activity.
	h.do("GET", "/v1/contacts/"+b, rep3, nil).want(t, http.StatusOK)
	h.do("GET", "/v1/activities/"+activity, rep3, nil).want(t, http.StatusOK)
	// A duplicate one cannot see is reported without its id.
	h.do("POST", "/v1/contacts", rep1, map[string]any{"first_name": "Secret", "emails": []string{"secret@x.ru"}}).want(t, http.StatusCreated)
	dup := h.do("POST", "/v1/contacts", rep3, map[string]any{"first_name": "S", "emails": []string{"secret@x.ru"}}).want(t, http.StatusConflict)
	if d := dup.body["duplicates"].([]any)[0].(map[string]any); d["id"] != nil || d["hidden"] != true {
		t.Fatalf("a hidden duplicate: %s", dup.raw)
	}
	// Sharing is changed like any field: unshared, rep3 loses it.
	h.do("PATCH", "/v1/contacts/"+b, rep2, map[string]any{"shared_with": map[string]any{"users": []string{}}}).want(t, http.StatusOK)
	h.do("GET", "/v1/contacts/"+b, rep3, nil).want(t, http.StatusNotFound)
}
