package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/contacts/api"
)

// contactIDOperations reads from the OpenAPI document every place an
// operation takes a contact's id: "METHOD path" for the path's {id} under
// /v1/contacts/{id}, "METHOD path name" for a contact_id parameter or
// body member, or for a body member that lists contact ids.
func contactIDOperations(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Parameters map[string]openAPIParam
			Schemas    map[string]openAPISchema
		}
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	schema := func(s openAPISchema) openAPISchema {
		for s.Ref != "" {
			s = doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
		}
		return s
	}
	var out []string
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" || strings.HasPrefix(method, "x-") {
				continue
			}
			var op struct {
				Parameters  []openAPIParam
				RequestBody struct {
					Content map[string]struct{ Schema openAPISchema }
				}
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			name := strings.ToUpper(method) + " " + path
			if strings.HasPrefix(path, "/v1/contacts/{id}") {
				out = append(out, name)
			}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				}
				if p.Name == "contact_id" {
					out = append(out, name+" "+p.Name)
				}
			}
			for _, c := range op.RequestBody.Content {
				for member, s := range schema(c.Schema).Properties {
					s = schema(s)
					ids := s.Items != nil && schema(*s.Items).Format == "uuid" && strings.HasPrefix(path, "/v1/contacts/")
					if member == "contact_id" || ids {
						out = append(out, name+" "+member)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
}

type openAPISchema struct {
	Ref        string                   `json:"$ref"`
	Format     string                   `json:"format"`
	Items      *openAPISchema           `json:"items"`
	Properties map[string]openAPISchema `json:"properties"`
}

// Every operation that takes a contact's id answers the id of a merged
// contact alike: 404 contact-merged naming the contact that holds its data
// now (merged_into). A caller who cannot see that contact gets exactly the
// answer a missing id gets, so a merge says nothing across visibility.
func TestEveryContactIDAnswersAMergedContactAlike(t *testing.T) {
	h := start(t)
	adm, rep := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantA, auth.RoleRep)
	create := func(tok string, body map[string]any) string {
		return h.do("POST", "/v1/contacts?allow_duplicate=true", tok, body).Want(t, http.StatusCreated).Body["id"].(string)
	}
	merge := func(tok, target, source string) {
		h.do("POST", "/v1/contacts/"+target+"/merge", tok, map[string]any{"from": []string{source}}).Want(t, http.StatusOK)
	}
	// The rep's own: source merged into target, and another target with a
	// contact merged into it, for the unmerge of a contact merged elsewhere.
	target, source := create(rep, map[string]any{"first_name": "Анна"}), create(rep, map[string]any{"first_name": "Аня"})
	merge(rep, target, source)
	other := create(rep, map[string]any{"first_name": "Пётр"})
	merge(rep, other, create(rep, map[string]any{"first_name": "Петя"}))
	// Another team's, which the rep does not see.
	hidden := map[string]any{"first_name": "Олег", "owner_id": "someone-else", "team": "team-2"}
	hiddenTarget, hiddenSource := create(adm, hidden), create(adm, hidden)
	merge(adm, hiddenTarget, hiddenSource)

	type request struct {
		method, path string
		Body         any
	}
	cases := map[string]struct {
		adminOnly bool
		req       func(id string) request
	}{
		"GET /v1/contacts/{id}": {req: func(id string) request { return request{"GET", "/v1/contacts/" + id, nil} }},
		"PATCH /v1/contacts/{id}": {req: func(id string) request {
			return request{"PATCH", "/v1/contacts/" + id, map[string]any{"first_name": "X"}}
		}},
		"DELETE /v1/contacts/{id}": {req: func(id string) request { return request{"DELETE", "/v1/contacts/" + id, nil} }},
		"GET /v1/contacts/{id}/timeline": {req: func(id string) request {
			return request{"GET", "/v1/contacts/" + id + "/timeline", nil}
		}},
		"POST /v1/contacts/{id}/erase": {adminOnly: true, req: func(id string) request {
			return request{"POST", "/v1/contacts/" + id + "/erase", nil}
		}},
		"GET /v1/contacts/{id}/data-export": {adminOnly: true, req: func(id string) request {
			return request{"GET", "/v1/contacts/" + id + "/data-export", nil}
		}},
		"POST /v1/contacts/{id}/merge": {req: func(id string) request {
			return request{"POST", "/v1/contacts/" + id + "/merge", map[string]any{"from": []string{create(rep, map[string]any{"first_name": "Ф"})}}}
		}},
		"POST /v1/contacts/{id}/merge from": {req: func(id string) request {
			return request{"POST", "/v1/contacts/" + create(rep, map[string]any{"first_name": "Ф"}) + "/merge", map[string]any{"from": []string{id}}}
		}},
		"POST /v1/contacts/{id}/unmerge": {req: func(id string) request { return request{"POST", "/v1/contacts/" + id + "/unmerge", nil} }},
		"POST /v1/contacts/{id}/unmerge contacts": {req: func(id string) request {
			return request{"POST", "/v1/contacts/" + other + "/unmerge", map[string]any{"contacts": []string{id}}}
		}},
		"GET /v1/activities contact_id": {req: func(id string) request { return request{"GET", "/v1/activities?contact_id=" + id, nil} }},
		"POST /v1/activities contact_id": {req: func(id string) request {
			return request{"POST", "/v1/activities", map[string]any{"kind": "note", "body": "x", "contact_id": id}}
		}},
	}
	ops := contactIDOperations(t)
	// A HEAD is its GET's case.
	caseOf := func(op string) (name string, head bool) {
		if rest, ok := strings.CutPrefix(op, "HEAD "); ok {
			return "GET " + rest, true
		}
		return op, false
	}
	documented := map[string]bool{}
	for _, op := range ops {
		name, _ := caseOf(op)
		documented[name] = true
	}
	for name := range cases {
		if !documented[name] {
			t.Errorf("the document names no contact-id operation %s: %v", name, ops)
		}
	}
	for _, op := range ops {
		name, head := caseOf(op)
		tc, ok := cases[name]
		if !ok {
			t.Errorf("%s takes a contact id: add it to this test", op)
			continue
		}
		do := func(tok, id string) testenv.Reply {
			r := tc.req(id)
			if head {
				r.method, r.Body = "HEAD", nil
			}
			return h.do(r.method, r.path, tok, r.Body)
		}
		t.Run(op, func(t *testing.T) {
			tok := rep
			if tc.adminOnly {
				tok = adm
			}
			r := do(tok, source).Want(t, http.StatusNotFound)
			if head {
				return // no body to read
			}
			if !strings.HasSuffix(r.Body["type"].(string), "/contact-merged") || r.Body["merged_into"] != target || r.Body["id"] != source {
				t.Fatalf("a merged contact: %s", r.Raw)
			}
		})
		if tc.adminOnly {
			// Only admins may call it, and admins see every contact: no
			// contact is hidden from a caller it answers (a rep's 403 comes
			// before any id is looked up).
			continue
		}
		t.Run(op+" hidden", func(t *testing.T) {
			missing := do(rep, uuid.NewString())
			r := do(rep, hiddenSource)
			if r.Status != missing.Status || r.Body["type"] != missing.Body["type"] || strings.Join(r.FieldPaths(), ",") != strings.Join(missing.FieldPaths(), ",") {
				t.Fatalf("a merged contact the rep cannot see answers %d %s; a missing one %d %s", r.Status, r.Raw, missing.Status, missing.Raw)
			}
			if strings.Contains(string(r.Raw), hiddenTarget) || r.Body["merged_into"] != nil {
				t.Fatalf("the answer names the contact it was merged into: %s", r.Raw)
			}
		})
	}
	// Nothing was changed by the refused requests.
	if g := h.do("GET", "/v1/contacts/"+target, adm, nil).Want(t, http.StatusOK); g.Body["erased_at"] != nil || g.Body["first_name"] != "Анна" {
		t.Fatalf("the target changed: %s", g.Raw)
	}
}
