package api

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// The document is valid OpenAPI 3.1, its references resolve and its
// examples are valid against their schemas.
func TestDocument(t *testing.T) { testenv.CheckDocument(t, OpenAPI) }
