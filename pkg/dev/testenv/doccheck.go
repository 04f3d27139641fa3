package testenv

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/jsonschema/v6"
	validator "github.com/pb33f/libopenapi-validator"
)

// CheckDocument checks an OpenAPI document on its own: it is OpenAPI 3.1
// and valid against that specification's schema, every local $ref points
// at something, every operation has a unique operationId and responses,
// and every example (a schema's examples, a media type's, parameter's or
// header's) is valid against its schema — an example is what a client
// copies first.
func CheckDocument(t testing.TB, raw []byte) {
	t.Helper()
	d, err := ParseDocument(raw)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if v, _ := d.root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", v)
	}
	dangling := false
	walk(d.root, "", func(v map[string]any, ptr string) {
		if ref, ok := v["$ref"].(string); ok && d.Pointer(ref) == nil {
			t.Errorf("%s: $ref %s points at nothing", ptr, ref)
			dangling = true
		}
	})
	if dangling {
		return
	}
	doc, err := openDocument(raw)
	if err != nil {
		t.Errorf("the document cannot be read: %v", err)
		return
	}
	val, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Errorf("the document cannot be read: %v", errs)
		return
	}
	if ok, verrs := val.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("not a valid OpenAPI document: %s", describe(e))
		}
	}

	ids := map[string]string{}
	for _, op := range d.Ops {
		switch prev, dup := ids[op.ID]; {
		case op.ID == "":
			t.Errorf("%s has no operationId", op.Route())
		case dup:
			t.Errorf("%s and %s share operationId %s", op.Route(), prev, op.ID)
		}
		ids[op.ID] = op.Route()
		if len(op.Responses) == 0 {
			t.Errorf("%s describes no response", op.Route())
		}
	}

	checkExamples(t, d)
}

// walk calls fn for every object of the document with its JSON pointer.
func walk(v any, ptr string, fn func(map[string]any, string)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v, ptr)
		for k, x := range v {
			walk(x, ptr+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), fn)
		}
	case []any:
		for i, x := range v {
			walk(x, fmt.Sprintf("%s/%d", ptr, i), fn)
		}
	}
}

// checkExamples validates every example against the schema it illustrates,
// compiling the schema where it stands in the document so that its $refs
// resolve.
func checkExamples(t testing.TB, d *Document) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	const base = "urn:rapport:openapi"
	if err := c.AddResource(base, d.root); err != nil {
		t.Fatal(err)
	}
	type example struct {
		schemaPtr, at string
		value         any
	}
	var examples []example
	walk(d.root, "", func(v map[string]any, ptr string) {
		// In a schema, examples is an array (JSON Schema); in a media
		// type, parameter or header, a map of Example Objects beside
		// their schema.
		if list, ok := v["examples"].([]any); ok {
			for i, x := range list {
				examples = append(examples, example{ptr, fmt.Sprintf("%s/examples/%d", ptr, i), x})
			}
		}
		if _, ok := v["schema"].(map[string]any); !ok {
			return
		}
		if x, ok := v["example"]; ok {
			examples = append(examples, example{ptr + "/schema", ptr + "/example", x})
		}
		if m, ok := v["examples"].(map[string]any); ok {
			for name, x := range m {
				if xm, ok := x.(map[string]any); ok {
					if val, ok := d.Resolve(xm)["value"]; ok {
						examples = append(examples, example{ptr + "/schema", ptr + "/examples/" + name, val})
					}
				}
			}
		}
	})
	slices.SortFunc(examples, func(a, b example) int { return strings.Compare(a.at, b.at) })
	for _, ex := range examples {
		sch, err := c.Compile(base + "#" + escapeFragment(ex.schemaPtr))
		if err != nil {
			t.Errorf("%s: the schema of an example does not compile: %v", ex.at, err)
			continue
		}
		if err := sch.Validate(ex.value); err != nil {
			t.Errorf("%s: the example is not valid against its schema: %v", ex.at, err)
		}
	}
}

// escapeFragment makes a JSON pointer fit a URI fragment.
func escapeFragment(ptr string) string {
	segs := strings.Split(ptr, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
