package transport_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/tasks/api"
	"github.com/rapportcrm/rapport/services/tasks/internal/transport"
)

// The query parameters each route takes are the ones its document lists.
func TestQueryParamsAreDocumented(t *testing.T) {
	testenv.CheckQueryParams(t, api.OpenAPI, transport.QueryParams)
}
