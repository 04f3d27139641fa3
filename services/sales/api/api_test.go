package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type operation struct {
	OperationID string           `json:"operationId"`
	Security    *[]any           `json:"security"`
	Parameters  []map[string]any `json:"parameters"`
	Responses   map[string]any   `json:"responses"`
}

func document(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// operations reads the document's operations by "METHOD /path".
func operations(t *testing.T) map[string]operation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]operation{}
	for path, item := range doc.Paths {
		for m, raw := range item {
			if !slices.Contains(methods, m) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			ops[strings.ToUpper(m)+" "+path] = op
		}
	}
	return ops
}

func TestDocumentIsOpenAPI31(t *testing.T) {
	doc := document(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if v, _ := info["version"].(string); v == "" || info["title"] == "" {
		t.Errorf("info %v", info)
	}
	schemes, _ := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	bearer, _ := schemes["bearer"].(map[string]any)
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("bearer scheme %v", bearer)
	}
	sec, _ := doc["security"].([]any)
	if len(sec) != 1 || sec[0].(map[string]any)["bearer"] == nil {
		t.Errorf("document security %v, want bearer", sec)
	}
}

// The document is valid OpenAPI 3.1, its references resolve, its
// operationIds are unique and its examples valid. That the service serves
// exactly the documented routes is TestServedRoutesAreDocumented's (in
// internal/app), against the running service.
func TestDocument(t *testing.T) { testenv.CheckDocument(t, OpenAPI) }

func TestOperationsAreComplete(t *testing.T) {
	seen := map[string]string{}
	for r, op := range operations(t) {
		if op.OperationID == "" {
			t.Errorf("%s has no operationId", r)
		} else if other, dup := seen[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %s", r, other, op.OperationID)
		}
		seen[op.OperationID] = r
		if len(op.Responses) == 0 {
			t.Errorf("%s has no responses", r)
		}
		if strings.HasSuffix(r, " /v1/sales/openapi.json") {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s must be public (security: [])", r)
			}
			continue
		}
		if op.Responses["401"] == nil {
			t.Errorf("%s does not describe 401", r)
		}
		method, path, _ := strings.Cut(r, " ")
		if strings.Contains(path, "{id}") && op.Responses["404"] == nil {
			t.Errorf("%s names a record but does not describe 404", r)
		}
		switch method {
		case "POST":
			if !hasParam(op, "IdempotencyKey") {
				t.Errorf("%s does not take Idempotency-Key", r)
			}
		case "PATCH", "PUT", "DELETE":
			if !hasParam(op, "IfMatch") {
				t.Errorf("%s does not take If-Match", r)
			}
			if op.Responses["412"] == nil {
				t.Errorf("%s does not describe 412", r)
			}
		}
	}
}

func hasParam(op operation, name string) bool {
	for _, p := range op.Parameters {
		if p["$ref"] == "#/components/parameters/"+name {
			return true
		}
	}
	return false
}

// Amounts are whole minor units and rates decimal strings, never floats.
func TestMoneyIsNeverAFloat(t *testing.T) {
	schemas := document(t)["components"].(map[string]any)["schemas"].(map[string]any)
	prop := func(schema, name string) map[string]any {
		s, _ := schemas[schema].(map[string]any)
		props, _ := s["properties"].(map[string]any)
		p, _ := props[name].(map[string]any)
		return p
	}
	amount := schemas["Amount"].(map[string]any)
	if types, _ := amount["type"].([]any); !slices.Contains(types, any("integer")) || slices.Contains(types, any("number")) {
		t.Errorf("Amount type %v, want integer (or null)", amount["type"])
	}
	if prop("Deal", "amount")["$ref"] != "#/components/schemas/Amount" {
		t.Errorf("Deal.amount %v", prop("Deal", "amount"))
	}
	if rate := schemas["Rate"].(map[string]any); rate["type"] != "string" {
		t.Errorf("Rate type %v, want string", rate["type"])
	}
	if prop("CurrencyRateInput", "rate")["type"] != "string" {
		t.Errorf("CurrencyRateInput.rate %v, want a string", prop("CurrencyRateInput", "rate"))
	}
}
