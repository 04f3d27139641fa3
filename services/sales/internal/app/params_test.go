package app_test

import (
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// Every operation refuses a query parameter it does not take, with the
// validation problem a bad value gets, instead of answering as if the
// parameter were not there.
func TestEveryOperationRefusesParametersItDoesNotTake(t *testing.T) {
	h := start(t)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	pl := h.pipeline(admin)
	st := stageIDs(pl)
	deal := h.do("POST", "/v1/deals", admin, map[string]any{"title": "x"}).Want(t, 201).Str("id")
	reason := h.do("GET", "/v1/loss-reasons", admin, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)["id"].(string)
	p := "/v1/pipelines/" + pl["id"].(string)
	for _, tc := range []struct {
		method, path string
		body         any
		fields       []string
	}{
		{"GET", "/v1/deals?sort=bogus", nil, []string{"sort"}},
		{"GET", "/v1/deals/" + deal + "?fields=title", nil, []string{"fields"}},
		{"GET", "/v1/deals/" + deal + "/moves?limit=5", nil, []string{"limit"}},
		{"GET", "/v1/pipelines?limit=1", nil, []string{"limit"}},
		{"GET", p + "?expand=stages", nil, []string{"expand"}},
		{"GET", p + "/board?deals=5", nil, []string{"deals"}},
		{"GET", p + "/board?deals_per_stage=5&deals_per_stage=6", nil, []string{"deals_per_stage"}},
		{"GET", p + "/board?deals_per_stage=many&owner=me", nil, []string{"deals_per_stage", "owner"}},
		{"GET", "/v1/loss-reasons?archived=true", nil, []string{"archived"}},
		{"GET", "/v1/loss-reasons?include_archived=maybe", nil, []string{"include_archived"}},
		{"GET", "/v1/loss-reasons/" + reason + "?x=1", nil, []string{"x"}},
		{"GET", "/v1/currency-rates?currency=USD", nil, []string{"currency"}},
		{"POST", "/v1/deals?dry_run=true", map[string]any{"title": "y"}, []string{"dry_run"}},
		{"PATCH", "/v1/deals/" + deal + "?force=1", map[string]any{"title": "y"}, []string{"force"}},
		{"POST", "/v1/deals/" + deal + "/move?to=" + st[2], map[string]any{"stage_id": st[1]}, []string{"to"}},
		{"POST", "/v1/deals/" + deal + "/move?stage_id=" + st[1], nil, []string{"stage_id", "stage_id"}},
		{"DELETE", p + "/stages/" + st[1] + "?move=" + st[0], nil, []string{"move"}},
		{"POST", "/v1/currency-rates?currency=CNY", map[string]any{"currency": "CNY", "rate": "12.5"}, []string{"currency"}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := h.do(tc.method, tc.path, admin, tc.body).Want(t, 422)
			if have := strings.Join(r.FieldPaths(), ","); have != strings.Join(tc.fields, ",") {
				t.Errorf("fields %s, want %v: %s", have, tc.fields, r.Raw)
			}
		})
	}
	// Nothing was written by a refused write.
	if d := h.do("GET", "/v1/deals/"+deal, admin, nil).Want(t, 200); d.Str("title") != "x" || d.Str("stage_id") != st[0] {
		t.Errorf("a refused write changed the deal: %s", d.Raw)
	}
	if n := h.countRows(h.tenantA, "currency_rates"); n != 0 {
		t.Errorf("a refused rate was stored")
	}
	// The parameters an operation takes still work.
	h.do("GET", p+"/board?deals_per_stage=5", admin, nil).Want(t, 200)
	h.do("GET", "/v1/loss-reasons?include_archived=true", admin, nil).Want(t, 200)
	h.do("GET", "/v1/deals?status=open&limit=5", admin, nil).Want(t, 200)
}
