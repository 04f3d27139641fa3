package api

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// The document is valid OpenAPI 3.1, its references resolve, its
// operationIds are unique and its examples valid.
func TestDocument(t *testing.T) { testenv.CheckDocument(t, OpenAPI) }
