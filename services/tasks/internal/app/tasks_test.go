package app_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/tasks/api"
)

// task plans a task of owner in team, as an admin of tenant.
func (h *harness) task(tenant uuid.UUID, subject, owner, team string) string {
	h.T.Helper()
	return testenv.Call(h.T, "POST", h.url+"/v1/tasks", h.Token(tenant, "planner", "admin", "t0"),
		map[string]any{"subject": subject, "owner_id": owner, "team": team}).Want(h.T, http.StatusCreated).Str("id")
}

// ids are the ids of the tasks a list answered, in order.
func ids(r testenv.Reply) []string {
	var out []string
	for _, it := range r.Body["items"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

func TestANewTenantHasNoTasks(t *testing.T) {
	h := start(t)
	r := h.do("GET", "/v1/tasks", h.Token(h.tenantA, "ann", "admin", "t1")).Want(t, http.StatusOK)
	if items, ok := r.Body["items"].([]any); !ok || len(items) != 0 || r.Body["next_cursor"] != nil {
		t.Fatalf("have %s", r.Raw)
	}
	if ready, err := http.Get(h.url + "/readyz"); err != nil || ready.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", ready, err)
	}
}

// A tenant's list holds only its own tasks, and of those only what the
// caller may see: reps their own, managers their team's, admins all.
func TestListShowsOnlyWhatTheCallerMaySee(t *testing.T) {
	h := start(t)
	own := h.task(h.tenantA, "Call Anna", "rep", "t1")
	team := h.task(h.tenantA, "Send the offer", "mate", "t1")
	other := h.task(h.tenantA, "Visit Omsk", "far", "t2")
	foreign := h.task(h.tenantB, "B's call", "rep", "t1")
	for _, tc := range []struct {
		tenant           uuid.UUID
		user, role, team string
		want             []string
	}{
		{h.tenantA, "rep", "rep", "t1", []string{own}},
		{h.tenantA, "boss", "manager", "t1", []string{own, team}},
		{h.tenantA, "seer", "viewer", "t2", []string{other}},
		{h.tenantA, "ann", "admin", "t9", []string{own, team, other}},
		{h.tenantA, "ana", "analyst", "", []string{own, team, other}},
		{h.tenantB, "ann", "admin", "t1", []string{foreign}},
		{h.tenantB, "rep", "rep", "t1", []string{foreign}},
	} {
		r := h.do("GET", "/v1/tasks", h.Token(tc.tenant, tc.user, tc.role, tc.team)).Want(t, http.StatusOK)
		if have := ids(r); !slices.Equal(have, tc.want) {
			t.Errorf("%s (%s of %s): have %v, want %v", tc.user, tc.role, tc.team, have, tc.want)
		}
	}
}

func TestListPagesWithACursor(t *testing.T) {
	h := start(t)
	var want []string
	for _, s := range []string{"a", "b", "c"} {
		want = append(want, h.task(h.tenantA, s, "rep", "t1"))
	}
	tok := h.Token(h.tenantA, "rep", "rep", "t1")
	var have []string
	for path := "/v1/tasks?limit=2"; ; {
		r := h.do("GET", path, tok).Want(t, http.StatusOK)
		have = append(have, ids(r)...)
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/tasks?limit=2&cursor=" + next
	}
	if !slices.Equal(have, want) {
		t.Fatalf("pages held %v, want %v", have, want)
	}
	for _, bad := range []string{"?limit=0", "?limit=201", "?cursor=nope", "?sort=due", "?limit=1&limit=2"} {
		h.do("GET", "/v1/tasks"+bad, tok).Want(t, http.StatusUnprocessableEntity)
	}
	h.do("GET", "/v1/tasks", "").Want(t, http.StatusUnauthorized)
}

// The service serves exactly the routes its OpenAPI document describes,
// HEAD included.
func TestServedRoutesAreDocumented(t *testing.T) {
	h := start(t)
	testenv.CheckRoutes(t, h.url, h.Token(h.tenantA, "ann", "admin", "t1"), api.OpenAPI, "..")
}
