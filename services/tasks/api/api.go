// Package api embeds the tasks service's OpenAPI 3.1 document, served at
// /v1/tasks/openapi.json.
package api

import _ "embed"

// OpenAPI is the document.
//
//go:embed openapi.json
var OpenAPI []byte
