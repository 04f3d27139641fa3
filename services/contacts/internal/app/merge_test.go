package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// record is everything the API shows about a contact: the record (without
// local_time, which moves with the clock), its activities and its timeline.
type record struct {
	Contact    map[string]any
	Activities []any
	Timeline   []any
}

func (h *harness) record(t *testing.T, token, id string) record {
	t.Helper()
	c := h.do("GET", "/v1/contacts/"+id, token, nil).Want(t, http.StatusOK).Body
	delete(c, "local_time")
	return record{Contact: c,
		Activities: h.do("GET", "/v1/activities?contact_id="+id, token, nil).Want(t, http.StatusOK).Body["items"].([]any),
		Timeline:   h.do("GET", "/v1/contacts/"+id+"/timeline", token, nil).Want(t, http.StatusOK).Body["items"].([]any)}
}

func (r record) String() string {
	b, _ := json.MarshalIndent(r, "", " ")
	return string(b)
}

// strs reads a JSON list of strings.
func strs(v any) string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return strings.Join(out, ",")
}

// mergeFixture is a target and two contacts that are the same person, with
// custom values and activities, in tenant A.
type mergeFixture struct {
	adm, target, s1, s2, company, s1Call string
}

func newMergeFixture(t *testing.T, h *harness) mergeFixture {
	t.Helper()
	f := mergeFixture{adm: h.token(h.tenantA, auth.RoleAdmin)}
	for _, key := range []string{"segment", "region"} {
		h.do("POST", "/v1/fields", f.adm, map[string]any{"entity": "contact", "key": key, "label": key, "type": "text"}).Want(t, http.StatusCreated)
	}
	f.company = h.do("POST", "/v1/companies", f.adm, map[string]any{"name": "Ромашка"}).Want(t, http.StatusCreated).Body["id"].(string)
	create := func(body map[string]any) string {
		return h.do("POST", "/v1/contacts?allow_duplicate=true", f.adm, body).Want(t, http.StatusCreated).Body["id"].(string)
	}
	f.target = create(map[string]any{"first_name": "Анна", "emails": []string{"anna@example.ru"}, "phones": []string{"+7 912 000-00-00"},
		"tags": []string{"vip"}, "custom": map[string]any{"segment": "b2b"}})
	f.s1 = create(map[string]any{"first_name": "Anna", "last_name": "Ivanova", "emails": []string{"anna.ivanova@corp.ru"},
		"phones": []string{"+7 495 123-45-67"}, "tags": []string{"moscow"}, "position": "CFO", "company_id": f.company,
		"custom": map[string]any{"segment": "b2c", "region": "msk"}, "source": "referral", "owner_id": "rep-x", "birthday": "1985-03-01"})
	f.s2 = create(map[string]any{"first_name": "Аня", "emails": []string{"anna@example.ru", "anya@mail.ru"},
		"tags": []string{"vip", "partner"}, "timezone": "Asia/Vladivostok"})
	f.s1Call = h.do("POST", "/v1/activities", f.adm, map[string]any{"kind": "call", "subject": "Звонок", "contact_id": f.s1}).
		Want(t, http.StatusCreated).Body["id"].(string)
	h.do("POST", "/v1/activities", f.adm, map[string]any{"kind": "note", "body": "Просит счёт", "contact_id": f.s2}).Want(t, http.StatusCreated)
	h.do("POST", "/v1/activities", f.adm, map[string]any{"kind": "meeting", "subject": "Встреча", "contact_id": f.target}).Want(t, http.StatusCreated)
	return f
}

// The target keeps every channel, tag, custom value, activity and timeline
// entry of the merged contacts, wins conflicts and has its blanks filled;
// the merged ids answer 404 with merged_into; the merge is on the topic;
// unmerge restores the merged contacts exactly and takes back from the
// target what came from them, keeping the target's later edits.
func TestMergeAndUnmerge(t *testing.T) {
	h := start(t)
	f := newMergeFixture(t, h)
	before1, before2 := h.record(t, f.adm, f.s1), h.record(t, f.adm, f.s2)
	targetBefore := h.record(t, f.adm, f.target)

	r := h.do("POST", "/v1/contacts/"+f.target+"/merge", f.adm, map[string]any{"from": []string{f.s1, f.s2}}, "If-Match", `"1"`).
		Want(t, http.StatusOK)
	b := r.Body
	for field, want := range map[string]string{
		"emails": "anna@example.ru,anna.ivanova@corp.ru,anya@mail.ru", "phones": "+79120000000,+74951234567",
		"tags": "vip,moscow,partner",
	} {
		if have := strs(b[field]); have != want {
			t.Errorf("%s: have %s, want %s", field, have, want)
		}
	}
	custom := b["custom"].(map[string]any)
	if b["first_name"] != "Анна" || b["last_name"] != "Ivanova" || b["position"] != "CFO" || b["company_id"] != f.company ||
		b["source"] != "referral" || b["birthday"] != "1985-03-01" || b["timezone"] != "Asia/Vladivostok" ||
		custom["segment"] != "b2b" || custom["region"] != "msk" || strs(b["shared_with"].(map[string]any)["users"]) != "rep-x" ||
		b["version"].(float64) != 2 || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("the target wins conflicts and fills its blanks: %s", r.Raw)
	}
	// The merged contacts are gone, pointing at the target.
	for _, req := range []struct {
		method, id string
		Body       any
	}{{"GET", f.s1, nil}, {"PATCH", f.s2, map[string]any{"first_name": "X"}}, {"DELETE", f.s1, nil}} {
		g := h.do(req.method, "/v1/contacts/"+req.id, f.adm, req.Body).Want(t, http.StatusNotFound)
		if g.Body["merged_into"] != f.target || !strings.HasSuffix(g.Body["type"].(string), "/contact-merged") {
			t.Errorf("%s a merged contact: %s", req.method, g.Raw)
		}
	}
	merged := h.record(t, f.adm, f.target)
	if len(merged.Activities) != 3 || len(merged.Timeline) != len(targetBefore.Timeline)+len(before1.Timeline)+len(before2.Timeline)+2 {
		t.Fatalf("the target holds every activity and timeline entry: %s", merged)
	}
	if n, m := h.countRows(h.tenantA, "contact_keys"), h.countRows(h.tenantA, "merges"); n != 5 || m != 2 {
		t.Fatalf("%d channel keys (want the target's 5), %d merges", n, m)
	}
	var msg contactsv1.ContactMerged
	if err := readEventOfType(t, h.brokers, f.target, "crm.contact.merged").Unmarshal(&msg); err != nil ||
		strings.Join(msg.GetMergedIds(), ",") != f.s1+","+f.s2 || msg.GetTargetId() != f.target || msg.GetTarget().GetVersion() != 2 ||
		msg.GetActorId() != "admin-user" {
		t.Fatalf("merged event %v %v", &msg, err)
	}
	var upd contactsv1.ContactUpdated
	if err := readEventOfType(t, h.brokers, f.target, "crm.contact.updated").Unmarshal(&upd); err != nil || upd.GetContact().GetVersion() != 2 {
		t.Fatalf("updated event %v %v", &upd, err)
	}

	// Later edits of the target survive the unmerge.
	h.do("PATCH", "/v1/contacts/"+f.target, f.adm, map[string]any{"position": "CEO", "tags": []string{"vip", "moscow", "partner", "later"}}).
		Want(t, http.StatusOK)
	u := h.do("POST", "/v1/contacts/"+f.target+"/unmerge", f.adm, nil, "If-Match", `"3"`).Want(t, http.StatusOK)
	if restored := u.Body["restored"].([]any); len(restored) != 2 || restored[0].(map[string]any)["id"] != f.s1 || u.Header.Get("ETag") != `"4"` {
		t.Fatalf("unmerge answered %s", u.Raw)
	}
	for _, c := range []struct {
		id     string
		before record
	}{{f.s1, before1}, {f.s2, before2}} {
		if after := h.record(t, f.adm, c.id); !reflect.DeepEqual(after, c.before) {
			t.Errorf("unmerge did not restore %s exactly:\nbefore %s\nafter %s", c.id, c.before, after)
		}
	}
	after := h.record(t, f.adm, f.target)
	tc := after.Contact
	if strs(tc["emails"]) != "anna@example.ru" || strs(tc["phones"]) != "+79120000000" || strs(tc["tags"]) != "vip,later" ||
		tc["position"] != "CEO" || tc["last_name"] != "" || tc["company_id"] != nil || tc["source"] != "" || tc["birthday"] != nil ||
		tc["timezone"] != nil || fmt.Sprint(tc["custom"]) != "map[segment:b2b]" || strs(tc["shared_with"].(map[string]any)["users"]) != "" {
		t.Fatalf("the target keeps its own values and later edits only: %v", tc)
	}
	if !reflect.DeepEqual(after.Activities, targetBefore.Activities) {
		t.Fatalf("the target keeps only its own activities: %v", after.Activities)
	}
	if n, m := h.countRows(h.tenantA, "contact_keys"), h.countRows(h.tenantA, "merges"); n != 6 || m != 0 {
		t.Fatalf("after unmerge: %d channel keys (want 2+2+2), %d merges", n, m)
	}
	var un contactsv1.ContactUnmerged
	if err := readEventOfType(t, h.brokers, f.target, "crm.contact.unmerged").Unmarshal(&un); err != nil ||
		len(un.GetRestored()) != 2 || un.GetRestored()[1].GetId() != f.s2 || un.GetTarget().GetVersion() != 4 {
		t.Fatalf("unmerged event %v %v", &un, err)
	}
	// The restored contacts can change again, and their ETag still holds.
	h.do("PATCH", "/v1/contacts/"+f.s1, f.adm, map[string]any{"position": "CTO"}, "If-Match", `"1"`).Want(t, http.StatusOK)
}

// Unmerging some contacts leaves the others merged; what they hold stays.
func TestPartialUnmerge(t *testing.T) {
	h := start(t)
	f := newMergeFixture(t, h)
	before1, before2, targetBefore := h.record(t, f.adm, f.s1), h.record(t, f.adm, f.s2), h.record(t, f.adm, f.target)
	h.do("POST", "/v1/contacts/"+f.target+"/merge", f.adm, map[string]any{"from": []string{f.s1, f.s2}}).Want(t, http.StatusOK)
	u := h.do("POST", "/v1/contacts/"+f.target+"/unmerge", f.adm, map[string]any{"contacts": []string{f.s2}}).Want(t, http.StatusOK)
	if restored := u.Body["restored"].([]any); len(restored) != 1 || restored[0].(map[string]any)["id"] != f.s2 {
		t.Fatalf("unmerge answered %s", u.Raw)
	}
	if after := h.record(t, f.adm, f.s2); !reflect.DeepEqual(after, before2) {
		t.Errorf("s2 not restored exactly:\nbefore %s\nafter %s", before2, after)
	}
	tc := u.Body["contact"].(map[string]any)
	// anna@example.ru and vip were the target's own; anya@mail.ru, partner
	// and the zone came from s2; the zone is derived again from s1's phone.
	if strs(tc["emails"]) != "anna@example.ru,anna.ivanova@corp.ru" || strs(tc["tags"]) != "vip,moscow" ||
		tc["position"] != "CFO" || tc["timezone"] != "Europe/Moscow" || tc["company_id"] != f.company {
		t.Fatalf("the target keeps what s1 gave: %v", tc)
	}
	g := h.do("GET", "/v1/contacts/"+f.s1, f.adm, nil).Want(t, http.StatusNotFound)
	if g.Body["merged_into"] != f.target {
		t.Fatalf("s1 is still merged: %s", g.Raw)
	}
	if a := h.do("GET", "/v1/activities?contact_id="+f.target, f.adm, nil).Want(t, http.StatusOK).Body["items"].([]any); len(a) != 2 {
		t.Fatalf("the target keeps s1's call and its meeting: %v", a)
	}
	// Unmerging s2 again is no longer possible; s1 still is.
	r := h.do("POST", "/v1/contacts/"+f.target+"/unmerge", f.adm, map[string]any{"contacts": []string{f.s2}}).Want(t, http.StatusUnprocessableEntity)
	if fs := r.FieldPaths(); len(fs) != 1 || fs[0] != "contacts/0" {
		t.Fatalf("have %s", r.Raw)
	}
	h.do("POST", "/v1/contacts/"+f.target+"/unmerge", f.adm, map[string]any{"contacts": []string{f.s1}}).Want(t, http.StatusOK)
	// One by one, the unmerges leave everything as it was before the merge
	// (the target's version and history aside).
	if after := h.record(t, f.adm, f.s1); !reflect.DeepEqual(after, before1) {
		t.Errorf("s1 not restored exactly:\nbefore %s\nafter %s", before1, after)
	}
	after := h.record(t, f.adm, f.target)
	for _, r := range []record{after, targetBefore} {
		delete(r.Contact, "version")
		delete(r.Contact, "updated_at")
	}
	after.Timeline, targetBefore.Timeline = nil, nil
	if !reflect.DeepEqual(after, targetBefore) {
		t.Errorf("the target is not as it was:\nbefore %s\nafter %s", targetBefore, after)
	}
}

// A contact merged into one that is merged in turn points at the last one;
// deleting or erasing a target forgets what was merged into it.
func TestMergeChainsAndForgetting(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	create := func(name string) string {
		return h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": name}).Want(t, http.StatusCreated).Body["id"].(string)
	}
	a, b, c := create("A"), create("B"), create("C")
	h.do("POST", "/v1/contacts/"+b+"/merge", adm, map[string]any{"from": []string{a}}).Want(t, http.StatusOK)
	h.do("POST", "/v1/contacts/"+c+"/merge", adm, map[string]any{"from": []string{b}}).Want(t, http.StatusOK)
	if g := h.do("GET", "/v1/contacts/"+a, adm, nil).Want(t, http.StatusNotFound); g.Body["merged_into"] != c {
		t.Fatalf("a points at the last target: %s", g.Raw)
	}
	// Merging into a merged contact, or a merged contact again, is refused
	// with the contact to use instead.
	if r := h.do("POST", "/v1/contacts/"+b+"/merge", adm, map[string]any{"from": []string{create("D")}}).Want(t, http.StatusNotFound); r.Body["merged_into"] != c {
		t.Fatalf("merge into a merged contact: %s", r.Raw)
	}
	if r := h.do("POST", "/v1/contacts/"+c+"/merge", adm, map[string]any{"from": []string{a}}).Want(t, http.StatusNotFound); r.Body["merged_into"] != c || r.Body["id"] != a {
		t.Fatalf("merge a merged contact: %s", r.Raw)
	}
	h.do("POST", "/v1/contacts/"+b+"/unmerge", adm, nil).Want(t, http.StatusNotFound)
	h.do("POST", "/v1/contacts/"+c+"/unmerge", adm, nil).Want(t, http.StatusOK)
	if g := h.do("GET", "/v1/contacts/"+a, adm, nil).Want(t, http.StatusNotFound); g.Body["merged_into"] != b {
		t.Fatalf("a points at b again: %s", g.Raw)
	}
	// Deleting b forgets a for good: a plain 404, no record left.
	h.do("DELETE", "/v1/contacts/"+b, adm, nil).Want(t, http.StatusNoContent)
	if g := h.do("GET", "/v1/contacts/"+a, adm, nil).Want(t, http.StatusNotFound); g.Body["merged_into"] != nil {
		t.Fatalf("a deleted target still redirects: %s", g.Raw)
	}
	if n := h.countRows(h.tenantA, "merges"); n != 0 {
		t.Fatalf("%d merges of a deleted target left", n)
	}
	// Erasing a target erases what was merged into it, the whole tree.
	e, f, g := create("E"), create("F"), create("G")
	h.do("POST", "/v1/contacts/"+f+"/merge", adm, map[string]any{"from": []string{e}}).Want(t, http.StatusOK)
	h.do("POST", "/v1/contacts/"+g+"/merge", adm, map[string]any{"from": []string{f}}).Want(t, http.StatusOK)
	if n := h.countRows(h.tenantA, "merges"); n != 2 {
		t.Fatalf("%d merges, want 2", n)
	}
	h.do("POST", "/v1/contacts/"+g+"/erase", adm, nil).Want(t, http.StatusOK)
	if n := h.countRows(h.tenantA, "merges"); n != 0 {
		t.Fatalf("%d merges of an erased target left", n)
	}
	// Erased, the target has nothing merged left (not merely "erased").
	if r := h.do("POST", "/v1/contacts/"+g+"/unmerge", adm, nil).Want(t, http.StatusConflict); !strings.HasSuffix(r.Body["type"].(string), "/nothing-merged") {
		t.Fatalf("unmerge of an erased target: %s", r.Raw)
	}
}

func TestMergeBadInput(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	create := func(token string, body map[string]any) string {
		return h.do("POST", "/v1/contacts", token, body).Want(t, http.StatusCreated).Body["id"].(string)
	}
	target, s := create(adm, map[string]any{"first_name": "T"}), create(adm, map[string]any{"first_name": "S"})
	erased := create(adm, map[string]any{"first_name": "E"})
	h.do("POST", "/v1/contacts/"+erased+"/erase", adm, nil).Want(t, http.StatusOK)
	other := create(h.tokenFor(h.tenantA, "rep9", "south", auth.RoleRep), map[string]any{"first_name": "O"})
	theirs := create(h.token(h.tenantB, auth.RoleAdmin), map[string]any{"first_name": "B"})
	many := make([]string, 21)
	for i := range many {
		many[i] = uuid.NewString()
	}
	rep := h.tokenFor(h.tenantA, "rep1", "north", auth.RoleRep)
	mine := create(rep, map[string]any{"first_name": "Mine"})
	for name, tc := range map[string]struct {
		token, target string
		Body          any
		headers       []string
		Status        int
		fields        string
	}{
		"no from":              {adm, target, map[string]any{}, nil, http.StatusUnprocessableEntity, "from"},
		"empty from":           {adm, target, map[string]any{"from": []string{}}, nil, http.StatusUnprocessableEntity, "from"},
		"too many":             {adm, target, map[string]any{"from": many}, nil, http.StatusUnprocessableEntity, "from"},
		"not an id":            {adm, target, map[string]any{"from": []string{s, "x"}}, nil, http.StatusUnprocessableEntity, "from/1"},
		"into itself":          {adm, target, map[string]any{"from": []string{target}}, nil, http.StatusUnprocessableEntity, "from/0"},
		"twice":                {adm, target, map[string]any{"from": []string{s, s}}, nil, http.StatusUnprocessableEntity, "from/1"},
		"unknown source":       {adm, target, map[string]any{"from": []string{uuid.NewString()}}, nil, http.StatusNotFound, ""},
		"other tenant source":  {adm, target, map[string]any{"from": []string{theirs}}, nil, http.StatusNotFound, ""},
		"invisible source":     {rep, mine, map[string]any{"from": []string{other}}, nil, http.StatusNotFound, ""},
		"invisible target":     {rep, other, map[string]any{"from": []string{mine}}, nil, http.StatusNotFound, ""},
		"unknown target":       {adm, uuid.NewString(), map[string]any{"from": []string{s}}, nil, http.StatusNotFound, ""},
		"malformed target":     {adm, "nope", map[string]any{"from": []string{s}}, nil, http.StatusNotFound, ""},
		"erased source":        {adm, target, map[string]any{"from": []string{erased}}, nil, http.StatusConflict, ""},
		"stale If-Match":       {adm, target, map[string]any{"from": []string{s}}, []string{"If-Match", `"7"`}, http.StatusPreconditionFailed, ""},
		"weak If-Match":        {adm, target, map[string]any{"from": []string{s}}, []string{"If-Match", `W/"1"`}, http.StatusPreconditionFailed, ""},
		"bad If-Match":         {adm, target, map[string]any{"from": []string{s}}, []string{"If-Match", `"1`}, http.StatusBadRequest, ""},
		"unknown member":       {adm, target, `{"from": [], "into": "x"}`, nil, http.StatusBadRequest, ""},
		"malformed body":       {adm, target, `{"from": [`, nil, http.StatusBadRequest, ""},
		"viewer may not merge": {h.token(h.tenantA, auth.RoleViewer), target, map[string]any{"from": []string{s}}, nil, http.StatusForbidden, ""},
		"analyst may not":      {h.token(h.tenantA, auth.RoleAnalyst), target, map[string]any{"from": []string{s}}, nil, http.StatusForbidden, ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("POST", "/v1/contacts/"+tc.target+"/merge", tc.token, tc.Body, tc.headers...).Want(t, tc.Status)
			if tc.fields != "" && strings.Join(r.FieldPaths(), ",") != tc.fields {
				t.Fatalf("have fields %v, want %s: %s", r.FieldPaths(), tc.fields, r.Raw)
			}
			if r.Body["merged_into"] != nil {
				t.Fatalf("merged_into for a contact never merged: %s", r.Raw)
			}
		})
	}
	// Which source is missing is said.
	missing := uuid.NewString()
	if r := h.do("POST", "/v1/contacts/"+target+"/merge", adm, map[string]any{"from": []string{s, missing}}).Want(t, http.StatusNotFound); r.Body["id"] != missing {
		t.Fatalf("have %s", r.Raw)
	}
	// Nothing changed.
	if n := h.countRows(h.tenantA, "merges"); n != 0 {
		t.Fatalf("%d merges after refused requests", n)
	}
	if g := h.do("GET", "/v1/contacts/"+target, adm, nil).Want(t, http.StatusOK); g.Body["version"].(float64) != 1 {
		t.Fatalf("a refused merge changed the target: %s", g.Raw)
	}
	h.do("GET", "/v1/contacts/"+s, adm, nil).Want(t, http.StatusOK)

	// A rep merges what it may change.
	dup := create(rep, map[string]any{"first_name": "Mine too"})
	h.do("POST", "/v1/contacts/"+mine+"/merge", rep, map[string]any{"from": []string{dup}}).Want(t, http.StatusOK)

	// Unmerge.
	for name, tc := range map[string]struct {
		token, target string
		Body          any
		headers       []string
		Status        int
		fields        string
	}{
		"nothing merged":     {adm, target, nil, nil, http.StatusConflict, ""},
		"not merged into it": {rep, mine, map[string]any{"contacts": []string{s}}, nil, http.StatusUnprocessableEntity, "contacts/0"},
		"itself":             {rep, mine, map[string]any{"contacts": []string{mine}}, nil, http.StatusUnprocessableEntity, "contacts/0"},
		"not an id":          {rep, mine, map[string]any{"contacts": []string{"x"}}, nil, http.StatusUnprocessableEntity, "contacts/0"},
		"twice":              {rep, mine, map[string]any{"contacts": []string{dup, dup}}, nil, http.StatusUnprocessableEntity, "contacts/1"},
		"stale If-Match":     {rep, mine, nil, []string{"If-Match", `"9"`}, http.StatusPreconditionFailed, ""},
		"unknown target":     {adm, uuid.NewString(), nil, nil, http.StatusNotFound, ""},
		"invisible target":   {h.tokenFor(h.tenantA, "rep9", "south", auth.RoleRep), mine, nil, nil, http.StatusNotFound, ""},
		"viewer":             {h.token(h.tenantA, auth.RoleViewer), mine, nil, nil, http.StatusForbidden, ""},
		"unknown member":     {rep, mine, `{"ids": []}`, nil, http.StatusBadRequest, ""},
	} {
		t.Run("unmerge "+name, func(t *testing.T) {
			r := h.do("POST", "/v1/contacts/"+tc.target+"/unmerge", tc.token, tc.Body, tc.headers...).Want(t, tc.Status)
			if tc.fields != "" && strings.Join(r.FieldPaths(), ",") != tc.fields {
				t.Fatalf("have fields %v, want %s: %s", r.FieldPaths(), tc.fields, r.Raw)
			}
		})
	}
	if n := h.countRows(h.tenantA, "merges"); n != 1 {
		t.Fatalf("%d merges after refused unmerges, want 1", n)
	}
}

// Another tenant's ids are 404 on every merge endpoint, like missing ones,
// and never say what they were merged into.
func TestMergeCrossTenant(t *testing.T) {
	h := start(t)
	a, b := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantB, auth.RoleAdmin)
	create := func(token, name string) string {
		return h.do("POST", "/v1/contacts", token, map[string]any{"first_name": name}).Want(t, http.StatusCreated).Body["id"].(string)
	}
	target, source := create(a, "T"), create(a, "S")
	h.do("POST", "/v1/contacts/"+target+"/merge", a, map[string]any{"from": []string{source}}).Want(t, http.StatusOK)
	mine, mine2 := create(b, "B"), create(b, "B2")
	for _, req := range []struct {
		method, path string
		Body         any
	}{
		{"POST", "/v1/contacts/" + target + "/merge", map[string]any{"from": []string{mine}}},
		{"POST", "/v1/contacts/" + mine + "/merge", map[string]any{"from": []string{target}}},
		{"POST", "/v1/contacts/" + target + "/unmerge", nil},
		{"POST", "/v1/contacts/" + target + "/unmerge", map[string]any{"contacts": []string{source}}},
		{"GET", "/v1/contacts/" + source, nil},
		{"PATCH", "/v1/contacts/" + source, map[string]any{"first_name": "X"}},
		{"DELETE", "/v1/contacts/" + source, nil},
	} {
		r := h.do(req.method, req.path, b, req.Body).Want(t, http.StatusNotFound)
		if r.Body["merged_into"] != nil || !strings.HasSuffix(r.Body["type"].(string), "/not-found") {
			t.Errorf("%s %s leaks tenant A's merge: %s", req.method, req.path, r.Raw)
		}
	}
	if l := h.do("GET", "/v1/contacts/duplicates", b, nil).Want(t, http.StatusOK); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("tenant B lists duplicates: %s", l.Raw)
	}
	// Tenant A's merge is intact, and B's contacts are untouched.
	if g := h.do("GET", "/v1/contacts/"+source, a, nil).Want(t, http.StatusNotFound); g.Body["merged_into"] != target {
		t.Fatalf("have %s", g.Raw)
	}
	h.do("POST", "/v1/contacts/"+mine+"/merge", b, map[string]any{"from": []string{mine2}}).Want(t, http.StatusOK)
	if n := h.countRows(h.tenantB, "merges"); n != 1 {
		t.Fatalf("tenant B has %d merges", n)
	}
}
