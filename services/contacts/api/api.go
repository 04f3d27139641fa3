// Package api embeds the contacts service's OpenAPI 3.1 document.
package api

import _ "embed"

// OpenAPI is served at /v1/contacts/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
