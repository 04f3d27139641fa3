package app_test

import (
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/telemetry/telemetrytest"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
)

// What contacts serves on /metrics after some traffic passes the linter
// behind `promtool check metrics`.
func TestMetricsPassPromtool(t *testing.T) {
	telemetrytest.Setup(t, app.Name)
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	id := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	h.do("GET", "/v1/contacts/"+id, tok, nil).Want(t, http.StatusOK)
	h.do("GET", "/v1/contacts", tok, nil).Want(t, http.StatusOK)
	h.do("POST", "/v1/contacts", tok, map[string]any{}).Want(t, http.StatusUnprocessableEntity)
	have := telemetrytest.Scrape(t)
	telemetrytest.Lint(t, have)
	if n, _ := telemetrytest.Value(have, "contacts_calls_total", map[string]string{"method": "CreateContact", "outcome": "ok"}); n != "1" {
		t.Errorf("contacts_calls_total{method=CreateContact,outcome=ok} = %q, want 1", n)
	}
}
