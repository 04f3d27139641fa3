package app_test

import (
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

func TestSeededPipelineSpeaksTheTenantsLanguage(t *testing.T) {
	h := start(t)
	ru := h.pipeline(h.token(h.tenantA, auth.RoleAdmin))
	en := h.pipeline(h.token(h.tenantB, auth.RoleAdmin))
	if want := []string{"Новая", "Квалификация", "Предложение", "Счёт выставлен", "Успешно", "Проиграна"}; !slices.Equal(stageNames(ru), want) {
		t.Errorf("ru stages %v, want %v", stageNames(ru), want)
	}
	if want := []string{"New", "Qualified", "Proposal", "Invoice sent", "Won", "Lost"}; !slices.Equal(stageNames(en), want) {
		t.Errorf("en stages %v, want %v", stageNames(en), want)
	}
	invoice := en["stages"].([]any)[3].(map[string]any)
	if req := invoice["required_fields"].([]any); len(req) != 1 || req[0] != "amount" {
		t.Errorf("Invoice sent requires %v, want [amount]", req)
	}
	reasons := h.do("GET", "/v1/loss-reasons", h.token(h.tenantA, auth.RoleRep), nil).Want(t, 200).Body["items"].([]any)
	if len(reasons) == 0 || reasons[0].(map[string]any)["name"] != "Дорого" {
		t.Errorf("ru loss reasons %v", reasons)
	}
}

func TestStagesAreShapedByAdmins(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	p := h.do("POST", "/v1/pipelines", admin, map[string]any{"name": "Partners", "stages": []any{
		map[string]any{"name": "Lead", "color": "#112233", "probability": 5},
		map[string]any{"name": "Signed", "kind": "won"},
		map[string]any{"name": "Dropped", "kind": "lost"},
	}}).Want(t, 201)
	id := p.Str("id")
	if p.Header.Get("Location") != "/v1/pipelines/"+id || p.Header.Get("ETag") != `"1"` {
		t.Fatalf("headers %v", p.Header)
	}
	// Add a stage between Lead and Signed.
	added := h.do("POST", "/v1/pipelines/"+id+"/stages", admin, map[string]any{"name": "Demo", "probability": 40, "position": 1,
		"required_fields": []string{"amount"}}, "If-Match", `"1"`).Want(t, 201)
	pl := added.Body["pipeline"].(map[string]any)
	if want := []string{"Lead", "Demo", "Signed", "Dropped"}; !slices.Equal(stageNames(pl), want) {
		t.Fatalf("stages %v, want %v", stageNames(pl), want)
	}
	// A stale If-Match changes nothing.
	h.do("POST", "/v1/pipelines/"+id+"/stages", admin, map[string]any{"name": "X"}, "If-Match", `"1"`).Want(t, 412)
	ids := stageIDs(pl)
	// Rename and recolour.
	ch := h.do("PATCH", "/v1/pipelines/"+id+"/stages/"+ids[1], admin, map[string]any{"name": "Demo call", "color": "#ABCDEF"}).Want(t, 200)
	if st := ch.Body["stage"].(map[string]any); st["name"] != "Demo call" || st["color"] != "#abcdef" || st["probability"] != 40.0 {
		t.Errorf("changed stage %v", st)
	}
	// Reorder: all stages, once each.
	order := []string{ids[1], ids[0], ids[2], ids[3]}
	re := h.do("PUT", "/v1/pipelines/"+id+"/stages/order", admin, map[string]any{"stage_ids": order}).Want(t, 200)
	if !slices.Equal(stageIDs(re.Body), order) {
		t.Errorf("order %v, want %v", stageIDs(re.Body), order)
	}
	bad := h.do("PUT", "/v1/pipelines/"+id+"/stages/order", admin, map[string]any{"stage_ids": order[:3]}).Want(t, 422)
	if !slices.Contains(bad.FieldPaths(), "stage_ids") {
		t.Errorf("fields %v", bad.FieldPaths())
	}
	// Bad stages: colour, probability, kind, requirement.
	bad = h.do("POST", "/v1/pipelines/"+id+"/stages", admin, map[string]any{"name": "", "color": "red", "probability": 101,
		"kind": "maybe", "required_fields": []string{"shoe_size"}}).Want(t, 422)
	for _, f := range []string{"name", "color", "probability", "kind", "required_fields/0"} {
		if !slices.Contains(bad.FieldPaths(), f) {
			t.Errorf("no error on %s: %v", f, bad.FieldPaths())
		}
	}
	// The last open stage stays.
	h.do("DELETE", "/v1/pipelines/"+id+"/stages/"+ids[1], admin, nil).Want(t, 200)
	h.do("DELETE", "/v1/pipelines/"+id+"/stages/"+ids[0], admin, nil).Want(t, 409)
	// Reps may not shape pipelines.
	h.do("POST", "/v1/pipelines", h.token(h.tenantB, auth.RoleRep), map[string]any{"name": "Mine"}).Want(t, 403)
	// A pipeline without deals can be deleted.
	h.do("DELETE", "/v1/pipelines/"+id, admin, nil).Want(t, 204)
	h.do("GET", "/v1/pipelines/"+id, admin, nil).Want(t, 404)
}

// A tenant that deletes every pipeline keeps none: the next generation of
// its record does not seed the default one again.
func TestTheDefaultPipelineIsSeededOnce(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantB, auth.RoleAdmin)
	pl := h.pipeline(admin)
	h.do("DELETE", "/v1/pipelines/"+pl["id"].(string), admin, nil).Want(t, 204)
	h.publishTenant(h.tenantB, 2, "en", "USD")
	if items := h.do("GET", "/v1/pipelines", admin, nil).Want(t, 200).Body["items"].([]any); len(items) != 0 {
		t.Errorf("pipelines came back: %v", items)
	}
}
