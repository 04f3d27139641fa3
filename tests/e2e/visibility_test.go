package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// actor is a user of tenant demo.
type actor struct {
	name, role, user, team string
	tok                    string
}

// sees tells whether a reads a record of owner and team shared with
// users and teams, by the rule both documents state: admins and analysts
// see every record, reps their own, managers and viewers their team's and
// their own, everyone what is shared with them or with their team.
func (a actor) sees(owner, team string, sharedUsers, sharedTeams []string) bool {
	return a.role == "admin" || a.role == "analyst" || a.user == owner ||
		((a.role == "manager" || a.role == "viewer") && a.team == team) ||
		slices.Contains(sharedUsers, a.user) || slices.Contains(sharedTeams, a.team)
}

// writes tells whether a's role may change contacts, activities and deals.
func (a actor) writes() bool { return a.role == "admin" || a.role == "manager" || a.role == "rep" }

// TestVisibilityMatrix runs make run's platform and checks every operation
// that reads a contact, a deal or a task, or names one, for each kind of user of
// one tenant against the documented rules: the rep who owns the records,
// a rep of the same team and one of another, a manager and a viewer of
// each team, an analyst and an admin (both of the other team). A record a
// user may not see answers 404 where it is read and "no such contact"
// (422) where a write names it; lists leave it out; read-only roles may
// not write (403); erasure and the personal-data export are the admins'.
// Winning, losing and reopening a deal are writes to it like a PATCH.
func TestVisibilityMatrix(t *testing.T) {
	p := platform.New(t, platform.Build(t), filepath.Join(t.TempDir(), "data"))
	p.Start()
	defer p.Stop()
	readDocuments(t, p.Gateway, catalog.Names()...)
	gw := p.Gateway
	const team1, team2 = "vis-team-1", "vis-team-2"
	owner := actor{name: "owner rep", role: "rep", user: "vis-rep-1", team: team1}
	actors := []actor{
		owner,
		{name: "rep of the team", role: "rep", user: "vis-rep-2", team: team1},
		{name: "rep of another team", role: "rep", user: "vis-rep-3", team: team2},
		{name: "manager of the team", role: "manager", user: "vis-manager-1", team: team1},
		{name: "manager of another team", role: "manager", user: "vis-manager-2", team: team2},
		{name: "viewer of the team", role: "viewer", user: "vis-viewer-1", team: team1},
		{name: "viewer of another team", role: "viewer", user: "vis-viewer-2", team: team2},
		{name: "analyst", role: "analyst", user: "vis-analyst", team: team2},
		{name: "admin", role: "admin", user: "vis-admin", team: team2},
	}
	for i := range actors {
		actors[i].tok = p.UserToken("demo", actors[i].role, actors[i].user, actors[i].team)
	}
	own := actors[0].tok
	m := "vis" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	do := func(t *testing.T, method, path, tok string, body any, headers ...string) testenv.Reply {
		t.Helper()
		return testenv.Call(t, method, gw+path, tok, body, headers...)
	}
	create := func(path string, body any) string {
		t.Helper()
		r := do(t, "POST", path, own, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("fixture %s: %d %s", path, r.Status, r.Raw)
		}
		return r.Str("id")
	}
	n := 0
	contact := func(extra map[string]any) string {
		n++
		body := map[string]any{"first_name": "Видимость", "last_name": fmt.Sprintf("%s %d", m, n),
			"emails": []string{fmt.Sprintf("%s-%d@vis.example", m, n)}}
		for k, v := range extra {
			body[k] = v
		}
		return create("/v1/contacts?allow_duplicate=true", body)
	}

	// The owner's records: a contact at a company, its twin (a duplicate
	// pair), one shared with a user of the other team, an activity and a
	// deal about the contact.
	company := create("/v1/companies", map[string]any{"name": "Видимость " + m})
	c := contact(map[string]any{"company_id": company, "phones": []string{"+7 912 555-01-01"}})
	twin := contact(map[string]any{"phones": []string{"+7 912 555-01-01"}})
	shared := contact(map[string]any{"shared_with": map[string]any{"users": []string{"vis-rep-3"}, "teams": []string{}}})
	activity := create("/v1/activities", map[string]any{"kind": "call", "contact_id": c, "subject": m})
	deal := create("/v1/deals", map[string]any{"title": "Видимость " + m, "contact_id": c})
	pipeline := do(t, "GET", "/v1/deals/"+deal, own, nil).Want(t, http.StatusOK).Str("pipeline_id")
	stages := do(t, "GET", "/v1/pipelines/"+pipeline, own, nil).Want(t, http.StatusOK).Body["stages"].([]any)
	// The deal moves between the second and the third stage (open ones
	// that require nothing) as users may move it.
	moves := 0
	nextStage := func() string { return stages[1+moves%2].(map[string]any)["id"].(string) }
	freshDeal := func() string { return create("/v1/deals", map[string]any{"title": "Временная " + m}) }
	// The owner's task, and fresh ones for the writes that close or delete one.
	task := create("/v1/tasks", map[string]any{"kind": "call", "subject": "Видимость " + m})
	freshTask := func() string { return create("/v1/tasks", map[string]any{"subject": "Временная " + m}) }
	// A dated task of the owner, for the load per hour.
	dueHour := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
	create("/v1/tasks", map[string]any{"subject": "Час " + m, "due_at": dueHour.Add(10 * time.Minute).Format(time.RFC3339)})
	// An overdue task of the owner: the owner's next task, nobody else's.
	overdue := create("/v1/tasks", map[string]any{"subject": "Просрочено " + m, "due_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	// Loss reasons are the admins' to keep.
	reason := do(t, "POST", "/v1/loss-reasons", actors[len(actors)-1].tok, map[string]any{"name": "Видимость " + m}).
		Want(t, http.StatusCreated).Str("id")

	lists := func(r testenv.Reply, id string) bool { return strings.Contains(string(r.Raw), `"`+id+`"`) }
	checks := 0
	for _, a := range actors {
		t.Run(a.name, func(t *testing.T) {
			seesC := a.sees(owner.user, team1, nil, nil)
			seesShared := a.sees(owner.user, team1, []string{"vis-rep-3"}, nil)
			seesDeal := a.sees(owner.user, team1, nil, nil)
			read := func(sees bool) int {
				if sees {
					return http.StatusOK
				}
				return http.StatusNotFound
			}
			// A write to a record: 404 when unseen (a read-only role may
			// be refused for its role first: 403 tells nothing either), 403
			// when seen by a read-only role.
			write := func(sees bool, ok int) []int {
				switch {
				case !sees && !a.writes():
					return []int{http.StatusForbidden, http.StatusNotFound}
				case !sees:
					return []int{http.StatusNotFound}
				case !a.writes():
					return []int{http.StatusForbidden}
				}
				return []int{ok}
			}
			// A write that names a contact: 403 for read-only roles, else
			// 422 when the contact is unseen.
			names := func(sees bool, ok int) []int {
				switch {
				case !a.writes():
					return []int{http.StatusForbidden}
				case !sees:
					return []int{http.StatusUnprocessableEntity}
				}
				return []int{ok}
			}
			want := func(what string, r testenv.Reply, statuses ...int) {
				t.Helper()
				checks++
				if !slices.Contains(statuses, r.Status) {
					t.Errorf("%s: have %d, want %v: %.300s", what, r.Status, statuses, r.Raw)
				}
			}
			wantListed := func(what string, r testenv.Reply, id string, listed bool) {
				t.Helper()
				checks++
				if r.Status != http.StatusOK || lists(r, id) != listed {
					t.Errorf("%s: listed %v (status %d), want listed %v: %.300s", what, lists(r, id), r.Status, listed, r.Raw)
				}
			}

			// Contacts.
			want("GET the contact", do(t, "GET", "/v1/contacts/"+c, a.tok, nil), read(seesC))
			want("HEAD the contact", do(t, "HEAD", "/v1/contacts/"+c, a.tok, nil), read(seesC))
			want("GET the shared contact", do(t, "GET", "/v1/contacts/"+shared, a.tok, nil), read(seesShared))
			want("GET the timeline", do(t, "GET", "/v1/contacts/"+c+"/timeline", a.tok, nil), read(seesC))
			wantListed("search", do(t, "GET", "/v1/contacts?q="+m+"&limit=200", a.tok, nil), c, seesC)
			wantListed("search, shared", do(t, "GET", "/v1/contacts?q="+m+"&limit=200", a.tok, nil), shared, seesShared)
			exp := do(t, "GET", "/v1/contacts/export?q="+m, a.tok, nil)
			checks++
			if exp.Status != http.StatusOK || strings.Contains(string(exp.Raw), m+"-1@vis.example") != seesC {
				t.Errorf("the CSV export holds the contact: %v, want %v (status %d)", !seesC, seesC, exp.Status)
			}
			wantListed("the company's contacts", do(t, "GET", "/v1/companies/"+company+"/contacts", a.tok, nil), c, seesC)
			wantListed("duplicate pairs", do(t, "GET", "/v1/contacts/duplicates?limit=200", a.tok, nil), twin, seesC)
			want("GET the activity", do(t, "GET", "/v1/activities/"+activity, a.tok, nil), read(seesC))
			if acts := do(t, "GET", "/v1/activities?contact_id="+c, a.tok, nil); seesC || acts.Status == http.StatusOK {
				wantListed("the contact's activities", acts, activity, seesC)
			} else {
				want("the activities of an unseen contact", acts, http.StatusNotFound)
			}
			admin := http.StatusForbidden
			if a.role == "admin" {
				admin = http.StatusOK
			}
			want("GET the data export", do(t, "GET", "/v1/contacts/"+c+"/data-export", a.tok, nil), admin)
			want("PATCH the contact", do(t, "PATCH", "/v1/contacts/"+c, a.tok, map[string]any{"position": a.user}), write(seesC, http.StatusOK)...)
			want("log an activity about the contact", do(t, "POST", "/v1/activities", a.tok, map[string]any{"kind": "note", "contact_id": c}),
				names(seesC, http.StatusCreated)...)
			fresh := create("/v1/activities", map[string]any{"kind": "note", "contact_id": c})
			want("DELETE an activity about the contact", do(t, "DELETE", "/v1/activities/"+fresh, a.tok, nil), write(seesC, http.StatusNoContent)...)
			want("erase a contact", do(t, "POST", "/v1/contacts/"+contact(nil)+"/erase", a.tok, nil), admin)
			want("DELETE a contact", do(t, "DELETE", "/v1/contacts/"+contact(nil), a.tok, nil), write(seesC, http.StatusNoContent)...)
			want("merge two contacts", do(t, "POST", "/v1/contacts/"+contact(nil)+"/merge", a.tok, map[string]any{"from": []string{contact(nil)}}),
				write(seesC, http.StatusOK)...)

			// Deals.
			want("GET the deal", do(t, "GET", "/v1/deals/"+deal, a.tok, nil), read(seesDeal))
			want("HEAD the deal", do(t, "HEAD", "/v1/deals/"+deal, a.tok, nil), read(seesDeal))
			want("GET the deal's moves", do(t, "GET", "/v1/deals/"+deal+"/moves", a.tok, nil), read(seesDeal))
			if byContact := do(t, "GET", "/v1/deals?contact_id="+c, a.tok, nil); seesDeal || byContact.Status == http.StatusOK {
				wantListed("the contact's deals", byContact, deal, seesDeal)
			} else {
				want("the deals of an unseen contact", byContact, http.StatusNotFound)
			}
			checks++
			if have := listedAll(t, gw, "/v1/deals?limit=200", a.tok, deal); have != seesDeal {
				t.Errorf("the deals list holds the deal: %v, want %v", have, seesDeal)
			}
			wantListed("the board", do(t, "GET", "/v1/pipelines/"+pipeline+"/board", a.tok, nil), deal, seesDeal)
			want("PATCH the deal", do(t, "PATCH", "/v1/deals/"+deal, a.tok, map[string]any{"title": "Видимость " + m + " " + a.user}),
				write(seesDeal, http.StatusOK)...)
			moved := do(t, "POST", "/v1/deals/"+deal+"/move", a.tok, map[string]any{"stage_id": nextStage()})
			want("move the deal", moved, write(seesDeal, http.StatusOK)...)
			if moved.Status == http.StatusOK {
				moves++
			}
			want("DELETE a deal", do(t, "DELETE", "/v1/deals/"+freshDeal(), a.tok, nil), write(seesDeal, http.StatusNoContent)...)
			want("win a deal", do(t, "POST", "/v1/deals/"+freshDeal()+"/win", a.tok, map[string]any{}), write(seesDeal, http.StatusOK)...)
			want("lose a deal", do(t, "POST", "/v1/deals/"+freshDeal()+"/lose", a.tok, map[string]any{"reason_id": reason}),
				write(seesDeal, http.StatusOK)...)
			lost := freshDeal()
			do(t, "POST", "/v1/deals/"+lost+"/lose", own, map[string]any{"reason_id": reason}).Want(t, http.StatusOK)
			want("reopen a deal", do(t, "POST", "/v1/deals/"+lost+"/reopen", a.tok, map[string]any{}), write(seesDeal, http.StatusOK)...)
			// Tasks: as deals, own/team/all.
			seesTask := a.sees(owner.user, team1, nil, nil)
			want("GET the task", do(t, "GET", "/v1/tasks/"+task, a.tok, nil), read(seesTask))
			want("HEAD the task", do(t, "HEAD", "/v1/tasks/"+task, a.tok, nil), read(seesTask))
			checks++
			if have := listedAll(t, gw, "/v1/tasks?limit=200", a.tok, task); have != seesTask {
				t.Errorf("the tasks list holds the task: %v, want %v", have, seesTask)
			}
			checks++
			agenda := do(t, "GET", "/v1/tasks/agenda?owner_id="+owner.user, a.tok, nil).Want(t, http.StatusOK)
			if counted := agenda.Body["undated"].(float64) > 0; counted != seesTask {
				t.Errorf("the owner's agenda counts the task: %v, want %v: %s", counted, seesTask, agenda.Raw)
			}
			checks++
			load := do(t, "GET", "/v1/tasks/load?user="+owner.user+"&from="+url.QueryEscape(dueHour.Format(time.RFC3339))+
				"&to="+url.QueryEscape(dueHour.Add(time.Hour).Format(time.RFC3339)), a.tok, nil).Want(t, http.StatusOK)
			if counted := strings.Contains(string(load.Raw), `"tasks":1`); counted != seesTask {
				t.Errorf("the owner's load counts the task: %v, want %v: %s", counted, seesTask, load.Raw)
			}
			checks++
			if next := do(t, "GET", "/v1/tasks/next", a.tok, nil).Want(t, http.StatusOK); strings.Contains(string(next.Raw), overdue) != (a.user == owner.user) {
				t.Errorf("%s's next task: %s (the owner's overdue task is %s)", a.user, next.Raw, overdue)
			}
			want("PATCH the task", do(t, "PATCH", "/v1/tasks/"+task, a.tok, map[string]any{"subject": "Видимость " + m + " " + a.user}),
				write(seesTask, http.StatusOK)...)
			want("complete a task", do(t, "POST", "/v1/tasks/"+freshTask()+"/complete", a.tok, map[string]any{"outcome": "reached"}),
				write(seesTask, http.StatusOK)...)
			want("cancel a task", do(t, "POST", "/v1/tasks/"+freshTask()+"/cancel", a.tok, nil), write(seesTask, http.StatusOK)...)
			want("DELETE a task", do(t, "DELETE", "/v1/tasks/"+freshTask(), a.tok, nil), write(seesTask, http.StatusNoContent)...)
			// A task may only name a contact, a deal its writer sees: on
			// create, on change, and in the next step of a completion.
			want("plan a task about the contact", do(t, "POST", "/v1/tasks", a.tok, map[string]any{"subject": "Чужой? " + m, "contact_id": c}),
				names(seesC, http.StatusCreated)...)
			want("plan a task about the shared contact", do(t, "POST", "/v1/tasks", a.tok,
				map[string]any{"subject": "Общий " + m, "contact_id": shared}), names(seesShared, http.StatusCreated)...)
			want("plan a task about the deal", do(t, "POST", "/v1/tasks", a.tok, map[string]any{"subject": "Сделка? " + m, "deal_id": deal}),
				names(seesDeal, http.StatusCreated)...)
			if a.writes() {
				mine := do(t, "POST", "/v1/tasks", a.tok, map[string]any{"subject": "Своя " + m}).Want(t, http.StatusCreated).Str("id")
				want("name the contact in one's own task", do(t, "PATCH", "/v1/tasks/"+mine, a.tok, map[string]any{"contact_id": c}),
					names(seesC, http.StatusOK)...)
				want("name the deal in one's next step", do(t, "POST", "/v1/tasks/"+mine+"/complete", a.tok,
					map[string]any{"outcome": "reached", "next": map[string]any{"subject": "Дальше " + m, "deal_id": deal}}), names(seesDeal, http.StatusOK)...)
			}
			// Outcomes, calendars and the rules of tasks: every role reads
			// them; admins and managers change them.
			configures, adds := http.StatusForbidden, http.StatusForbidden
			if a.role == "admin" || a.role == "manager" {
				configures, adds = http.StatusOK, http.StatusCreated
			}
			want("GET the outcomes", do(t, "GET", "/v1/outcomes", a.tok, nil), http.StatusOK)
			want("GET the calendars", do(t, "GET", "/v1/calendars", a.tok, nil), http.StatusOK)
			want("GET the rules of tasks", do(t, "GET", "/v1/tasks/settings", a.tok, nil), http.StatusOK)
			want("change the rules of tasks", do(t, "PATCH", "/v1/tasks/settings", a.tok, map[string]any{"reminder_minutes": 15}), configures)
			want("add an outcome", do(t, "POST", "/v1/outcomes", a.tok, map[string]any{"key": "vis_" + strings.ReplaceAll(a.user, "-", "_"),
				"label": "Видимость", "action": "complete"}), adds)
			own := http.StatusForbidden
			if a.writes() {
				own = http.StatusCreated
			}
			want("give oneself a calendar", do(t, "POST", "/v1/calendars", a.tok, map[string]any{"user_id": a.user, "time_zone": "Europe/Moscow"}), own)
			// A deal may only name a contact its writer sees, on create and on change.
			want("create a deal naming the contact", do(t, "POST", "/v1/deals", a.tok, map[string]any{"title": "Чужая? " + m, "contact_id": c}),
				names(seesC, http.StatusCreated)...)
			if a.writes() {
				mine := do(t, "POST", "/v1/deals", a.tok, map[string]any{"title": "Своя " + m}).Want(t, http.StatusCreated).Str("id")
				want("name the contact in one's own deal", do(t, "PATCH", "/v1/deals/"+mine, a.tok, map[string]any{"contact_id": c}),
					names(seesC, http.StatusOK)...)
			}
		})
	}
	t.Logf("visibility matrix: %d users, %d checks", len(actors), checks)
}

// listedAll tells whether the list at path, read page by page as tok
// sees it, holds id.
func listedAll(t *testing.T, gw, path, tok, id string) bool {
	t.Helper()
	for next := path; ; {
		r := testenv.Call(t, "GET", gw+next, tok, nil).Want(t, http.StatusOK)
		if strings.Contains(string(r.Raw), `"`+id+`"`) {
			return true
		}
		cursor := r.Str("next_cursor")
		if cursor == "" {
			return false
		}
		next = path + "&cursor=" + url.QueryEscape(cursor)
	}
}
