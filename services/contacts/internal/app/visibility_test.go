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
	a := h.do("POST", "/v1/contacts", rep1, map[string]any{"first_name": "Alpha"}).Want(t, http.StatusCreated)
	if a.Body["team"] != "north" || a.Body["owner_id"] != "rep1" {
		t.Fatalf("team and owner default to the creator's: %s", a.Raw)
	}
	b := h.do("POST", "/v1/contacts", rep2, map[string]any{"first_name": "Bravo", "shared_with": map[string]any{"users": []string{"rep3"}}}).
		Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/contacts", rep3, map[string]any{"first_name": "Charlie", "shared_with": map[string]any{"teams": []string{"north"}}}).
		Want(t, http.StatusCreated)
	activity := h.do("POST", "/v1/activities", rep2, map[string]any{"kind": "call", "subject": "Bravo call", "contact_id": b}).
		Want(t, http.StatusCreated).Body["id"].(string)

	sees := func(token, query string) string {
		t.Helper()
		var out []string
		for _, it := range h.do("GET", "/v1/contacts?"+query, token, nil).Want(t, http.StatusOK).Body["items"].([]any) {
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
		h.do(req.method, req.path, rep1, body).Want(t, http.StatusNotFound)
	}
	r := h.do("POST", "/v1/activities", rep1, map[string]any{"kind": "note", "contact_id": b}).Want(t, http.StatusUnprocessableEntity)
	if f := r.FieldPaths(); len(f) != 1 || f[0] != "contact_id" {
		t.Fatalf("have %s", r.Raw)
	}
	if l := h.do("GET", "/v1/activities", rep1, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("rep1 lists activities of a contact they cannot see: %s", l.Raw)
	}
	// rep3, with whom Bravo is shared, reads it and its activity.
	h.do("GET", "/v1/contacts/"+b, rep3, nil).Want(t, http.StatusOK)
	h.do("GET", "/v1/activities/"+activity, rep3, nil).Want(t, http.StatusOK)
	// A duplicate one cannot see is reported without its id.
	h.do("POST", "/v1/contacts", rep1, map[string]any{"first_name": "Secret", "emails": []string{"secret@x.ru"}}).Want(t, http.StatusCreated)
	dup := h.do("POST", "/v1/contacts", rep3, map[string]any{"first_name": "S", "emails": []string{"secret@x.ru"}}).Want(t, http.StatusConflict)
	if d := dup.Body["duplicates"].([]any)[0].(map[string]any); d["id"] != nil || d["hidden"] != true {
		t.Fatalf("a hidden duplicate: %s", dup.Raw)
	}
	// Sharing is changed like any field: unshared, rep3 loses it.
	h.do("PATCH", "/v1/contacts/"+b, rep2, map[string]any{"shared_with": map[string]any{"users": []string{}}}).Want(t, http.StatusOK)
	h.do("GET", "/v1/contacts/"+b, rep3, nil).Want(t, http.StatusNotFound)
}
