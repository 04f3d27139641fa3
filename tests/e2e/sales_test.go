package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/tests/platform"
)

// TestSalesLivesBesideContacts runs make run's platform and works the sales
// funnel through the gateway: each demo tenant has its pipeline in its own
// language and base currency, a deal about a contact moves, the board adds
// it up, and the contact's timeline (kept by the contacts service from the
// sales topic) shows the deal's events.
func TestSalesLivesBesideContacts(t *testing.T) {
	p := platform.New(t, platform.Build(t), filepath.Join(t.TempDir(), "data"))
	p.Start()
	defer p.Stop()
	ru, en := p.Token("demo", "admin"), p.Token("demo-2", "admin")

	pipelines := call(t, "GET", p.Gateway+"/v1/pipelines", ru, "").want(t, http.StatusOK)
	pl := pipelines.body["items"].([]any)[0].(map[string]any)
	stages := pl["stages"].([]any)
	if first := stages[0].(map[string]any)["name"]; first != "Новая" {
		t.Fatalf("demo's first stage is %v: %s", first, pipelines.raw)
	}
	enPl := call(t, "GET", p.Gateway+"/v1/pipelines", en, "").want(t, http.StatusOK)
	if !strings.Contains(enPl.raw, `"Invoice sent"`) {
		t.Fatalf("demo-2's pipeline: %s", enPl.raw)
	}

	contact := call(t, "POST", p.Gateway+"/v1/contacts", ru, `{"first_name":"Пётр","last_name":"Сидоров"}`).want(t, http.StatusCreated)
	cid := contact.body["id"].(string)
	deal := call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"Поставка","amount":1500000,"contact_id":"`+cid+`"}`).want(t, http.StatusCreated)
	if deal.body["currency"] != "RUB" {
		t.Fatalf("deal in %v, want the tenant's base currency RUB: %s", deal.body["currency"], deal.raw)
	}
	did := deal.body["id"].(string)
	second := stages[1].(map[string]any)["id"].(string)
	call(t, "POST", p.Gateway+"/v1/deals/"+did+"/move", ru, `{"stage_id":"`+second+`"}`, "If-Match", `"1"`).want(t, http.StatusOK)
	call(t, "GET", p.Gateway+"/v1/deals/"+did, en, "").want(t, http.StatusNotFound)

	board := call(t, "GET", p.Gateway+"/v1/pipelines/"+pl["id"].(string)+"/board", ru, "").want(t, http.StatusOK)
	col := board.body["stages"].([]any)[1].(map[string]any)
	if col["count"] != 1.0 || col["total_amount"] != 1500000.0 || col["weighted_amount"] != 375000.0 || board.body["base_currency"] != "RUB" {
		t.Fatalf("board column %v (base %v)", col, board.body["base_currency"])
	}

	// The contacts service files the deal's events in the contact's timeline.
	var types []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		tl := call(t, "GET", p.Gateway+"/v1/contacts/"+cid+"/timeline", ru, "").want(t, http.StatusOK)
		types = types[:0]
		for _, e := range tl.body["items"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string))
		}
		if strings.Contains(strings.Join(types, " "), "crm.deal.stage_changed") && strings.Contains(strings.Join(types, " "), "crm.deal.created") {
			break
		}
	}
	if s := strings.Join(types, " "); !strings.Contains(s, "crm.deal.created") || !strings.Contains(s, "crm.deal.stage_changed") {
		t.Fatalf("timeline has %v, want the deal's events", types)
	}

	doc := call(t, "GET", p.Gateway+"/v1/sales/openapi.json", "", "").want(t, http.StatusOK)
	if !strings.HasPrefix(doc.body["openapi"].(string), "3.1") {
		t.Fatalf("sales OpenAPI: %.200s", doc.raw)
	}
}
