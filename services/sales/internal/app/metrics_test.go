package app_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/telemetry/telemetrytest"
	"github.com/rapportcrm/rapport/services/sales/internal/app"
)

// What sales serves on /metrics after some traffic passes the linter behind
// `promtool check metrics`.
func TestMetricsPassPromtool(t *testing.T) {
	telemetrytest.Setup(t, app.Name)
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	id := h.do("POST", "/v1/deals", rep, map[string]any{"title": "Fleet renewal"}).Want(t, 201).Str("id")
	h.do("GET", "/v1/deals/"+id, rep, nil).Want(t, 200)
	h.do("GET", "/v1/deals", rep, nil).Want(t, 200)
	h.do("POST", "/v1/deals", rep, map[string]any{}).Want(t, 422)
	have := telemetrytest.Scrape(t)
	telemetrytest.Lint(t, have)
	// Nothing failed, and the dead-letter counter says so from the start.
	if n, _ := telemetrytest.Value(have, "events_dlq_total", map[string]string{"group": "sales.contacts"}); n != "0" {
		t.Errorf("events_dlq_total{group=sales.contacts} = %q, want 0", n)
	}
}
