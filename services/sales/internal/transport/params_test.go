package transport_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/sales/api"
	"github.com/rapportcrm/rapport/services/sales/internal/transport"
)

// The query parameters each route takes are those its document lists.
func TestQueryParamsAreTheDocuments(t *testing.T) {
	testenv.CheckQueryParams(t, api.OpenAPI, transport.QueryParams)
}
