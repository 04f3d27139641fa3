package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/telemetry/telemetrytest"
	"github.com/rapportcrm/rapport/services/gateway/internal/app"
)

// What the gateway serves on /metrics after some traffic passes the linter
// behind `promtool check metrics`.
func TestMetricsPassPromtool(t *testing.T) {
	telemetrytest.Setup(t, app.Name)
	h := start(t, options{})
	tok := h.token(h.tenant(100), time.Hour)
	h.do("POST", "/v1/contacts", tok, `{"first_name":"Anna"}`, http.Header{"Content-Type": {"application/json"}})
	h.do("GET", "/v1/contacts", "", "", nil)
	telemetrytest.Lint(t, telemetrytest.Scrape(t))
}
