package app_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/sales/api"
)

// The service serves exactly the routes its OpenAPI document describes,
// HEAD included: a route added without its documentation fails here, and
// so does a documented route that is not served.
func TestServedRoutesAreDocumented(t *testing.T) {
	h := start(t)
	testenv.CheckRoutes(t, h.url, h.token(h.tenantA, auth.RoleAdmin), api.OpenAPI, "..")
}
