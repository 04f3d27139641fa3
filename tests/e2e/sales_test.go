package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/rapportcrm/rapport/tests/platform"
)

// TestSalesLivesBesideContacts runs make run's platform and works the sales
// funnel through the gateway: each demo tenant has its pipeline in its own
// language and base currency, a deal about a contact moves, the board adds
// it up, and the contact's timeline (kept by the contacts service from the
// sales topic) shows the deal's events.
func TestSalesLivesBesideContacts(t *testing.T) {
	col := newCollector(t)
	p := platform.New(t, platform.Build(t), filepath.Join(t.TempDir(), "data"),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+col.srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
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
	column := board.body["stages"].([]any)[1].(map[string]any)
	if column["count"] != 1.0 || column["total_amount"] != 1500000.0 || column["weighted_amount"] != 375000.0 || board.body["base_currency"] != "RUB" {
		t.Fatalf("board column %v (base %v)", column, board.body["base_currency"])
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

	t.Run("a contact created a moment ago is confirmed by contacts", func(t *testing.T) {
		c := call(t, "POST", p.Gateway+"/v1/contacts", ru, `{"first_name":"Ольга","last_name":"Новая"}`).want(t, http.StatusCreated)
		call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"Сразу","contact_id":"`+c.body["id"].(string)+`"}`).want(t, http.StatusCreated)
		// Another tenant's contact is not confirmed.
		call(t, "POST", p.Gateway+"/v1/deals", en, `{"title":"x","contact_id":"`+c.body["id"].(string)+`"}`).want(t, http.StatusUnprocessableEntity)
	})

	t.Run("a quick deal creates its contact", func(t *testing.T) {
		d := call(t, "POST", p.Gateway+"/v1/deals", ru,
			`{"title":"Быстрая","amount":500000,"contact":{"first_name":"Игорь","last_name":"Быстров","emails":["igor@bystrov.example"]}}`).want(t, http.StatusCreated)
		cid, _ := d.body["contact_id"].(string)
		c := call(t, "GET", p.Gateway+"/v1/contacts/"+cid, ru, "").want(t, http.StatusOK)
		if c.body["last_name"] != "Быстров" {
			t.Fatalf("quick deal's contact: %s", c.raw)
		}
	})

	t.Run("a quick deal sales rejects leaves nothing behind", func(t *testing.T) {
		search := func() int {
			r := call(t, "GET", p.Gateway+"/v1/contacts?q=Отказов", ru, "").want(t, http.StatusOK)
			return len(r.body["items"].([]any))
		}
		deals := func() int {
			r := call(t, "GET", p.Gateway+"/v1/deals?limit=200", ru, "").want(t, http.StatusOK)
			return len(r.body["items"].([]any))
		}
		before := deals()
		// Sales refuses the deal (no title, a currency without a rate, a
		// stage that needs an amount): the contact is never created.
		invoice := stages[3].(map[string]any)["id"].(string)
		for _, body := range []string{
			`{"title":"","contact":{"first_name":"Семён","last_name":"Отказов"}}`,
			`{"title":"x","amount":100,"currency":"EUR","contact":{"first_name":"Семён","last_name":"Отказов"}}`,
			`{"title":"x","stage_id":"` + invoice + `","contact":{"first_name":"Семён","last_name":"Отказов"}}`,
		} {
			call(t, "POST", p.Gateway+"/v1/deals", ru, body).want(t, http.StatusUnprocessableEntity)
		}
		// Contacts refuses the contact: its problem comes back under contact/, and no deal is made.
		r := call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"x","contact":{"first_name":"Семён","last_name":"Отказов","emails":["not-an-email"]}}`).
			want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(r.raw, `"contact/emails/0"`) {
			t.Errorf("contacts' refusal: %s", r.raw)
		}
		if n := search(); n != 0 {
			t.Errorf("%d contacts left behind by refused quick deals", n)
		}
		if n := deals(); n != before {
			t.Errorf("deals went from %d to %d", before, n)
		}
	})

	t.Run("merging contacts re-links their deals", func(t *testing.T) {
		keep := call(t, "POST", p.Gateway+"/v1/contacts", ru, `{"first_name":"Мария","last_name":"Слиянова","emails":["m1@merge.example"]}`).want(t, http.StatusCreated)
		gone := call(t, "POST", p.Gateway+"/v1/contacts", ru, `{"first_name":"Маша","last_name":"Слиянова","emails":["m2@merge.example"]}`).want(t, http.StatusCreated)
		keepID, goneID := keep.body["id"].(string), gone.body["id"].(string)
		deal := call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"Слияние","contact_id":"`+goneID+`"}`).want(t, http.StatusCreated)
		call(t, "POST", p.Gateway+"/v1/contacts/"+keepID+"/merge", ru, `{"from":["`+goneID+`"]}`).want(t, http.StatusOK)
		var now string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && now != keepID; time.Sleep(200 * time.Millisecond) {
			now, _ = call(t, "GET", p.Gateway+"/v1/deals/"+deal.body["id"].(string), ru, "").want(t, http.StatusOK).body["contact_id"].(string)
		}
		if now != keepID {
			t.Fatalf("the deal names %s after the merge, want %s", now, keepID)
		}
	})

	t.Run("a deal field defined in contacts holds for deals at once", func(t *testing.T) {
		call(t, "POST", p.Gateway+"/v1/fields", ru, `{"entity":"deal","key":"channel","label":"Канал","type":"enum","options":[{"value":"web"},{"value":"shop"}]}`).
			want(t, http.StatusCreated)
		d := call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"С полем","custom":{"channel":"web"}}`).want(t, http.StatusCreated)
		if c, _ := d.body["custom"].(map[string]any); c["channel"] != "web" {
			t.Fatalf("custom %s", d.raw)
		}
		r := call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"С полем","custom":{"channel":"fax"}}`).want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(r.raw, `"custom/channel"`) {
			t.Fatalf("bad value: %s", r.raw)
		}
	})

	t.Run("a deal's source is one of the tenant's lead sources", func(t *testing.T) {
		d := call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"Из рекомендации","source":"Referral"}`).want(t, http.StatusCreated)
		if d.body["source"] != "referral" {
			t.Fatalf("source %v", d.body["source"])
		}
		call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"x","source":"billboard"}`).want(t, http.StatusUnprocessableEntity)
	})

	t.Run("one trace runs from a contacts request through Kafka into sales' projection", func(t *testing.T) {
		// A contact a deal names, so sales' projection holds it and applies
		// its updates.
		c := call(t, "POST", p.Gateway+"/v1/contacts", ru, `{"first_name":"След","last_name":"Трассов"}`).want(t, http.StatusCreated)
		cid := c.body["id"].(string)
		call(t, "POST", p.Gateway+"/v1/deals", ru, `{"title":"Трасса","contact_id":"`+cid+`"}`).want(t, http.StatusCreated)
		const traceID = "0af7651916cd43dd8448eb211c80319c"
		call(t, "PATCH", p.Gateway+"/v1/contacts/"+cid, ru, `{"position":"Директор"}`,
			"traceparent", "00-"+traceID+"-b7ad6b7169203331-01").want(t, http.StatusOK)
		applied := func(spans []span) bool {
			for _, s := range spans {
				if s.service == "sales" && s.kind == tracepb.Span_SPAN_KIND_CONSUMER && s.attrs["rapport.outcome"] == "applied" {
					return true
				}
			}
			return false
		}
		var seen []span
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if seen = col.trace(traceID); applied(seen) {
				break
			}
		}
		if !has(seen, "contacts", tracepb.Span_SPAN_KIND_SERVER) || !has(seen, "contacts", tracepb.Span_SPAN_KIND_PRODUCER) || !applied(seen) {
			t.Fatalf("trace %s lacks the contacts request, its publish or sales' applying it; have %+v", traceID, seen)
		}
	})
}
