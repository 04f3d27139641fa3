package chart_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The umbrella chart's README lists every value, generated from
// values.schema.json (descriptions, types) and values.yaml (defaults):
// a value the schema gains without a description, or a table left stale,
// fails here. RAPPORT_UPDATE_README=1 rewrites the table.
func TestUmbrellaReadmeListsEveryValue(t *testing.T) {
	var schema map[string]any
	raw, err := os.ReadFile(filepath.Join(umbrellaDir(), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var defaults map[string]any
	raw, err = os.ReadFile(filepath.Join(umbrellaDir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &defaults); err != nil {
		t.Fatal(err)
	}
	var rows []string
	var undocumented []string
	shared, _ := schema["properties"].(map[string]any)["componentDefaults"].(map[string]any)["properties"].(map[string]any)
	var walk func(path string, s map[string]any, def any)
	walk = func(path string, s map[string]any, def any) {
		props, _ := s["properties"].(map[string]any)
		leaf := strings.HasSuffix(path, ".resources") || path == "rapport-operator" || len(props) == 0
		if add, ok := s["additionalProperties"].(map[string]any); ok && path == "services" {
			walk("services.<name>", add, nil) // each service's defaults are in values.yaml
			return
		}
		if !leaf {
			names := make([]string, 0, len(props))
			for name := range props {
				// A component's own copy of a componentDefaults key is that key.
				if _, isShared := shared[name]; isShared && (path == "gateway" || path == "services.<name>") {
					continue
				}
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				child, _ := def.(map[string]any)
				var d any
				if child != nil {
					d = child[name]
				}
				p := name
				if path != "" {
					p = path + "." + name
				}
				walk(p, props[name].(map[string]any), d)
			}
			return
		}
		desc, _ := s["description"].(string)
		if desc == "" {
			undocumented = append(undocumented, path)
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", path, typeOf(s), defaultOf(def), desc))
	}
	walk("", schema, defaults)
	if len(undocumented) > 0 {
		t.Errorf("values.schema.json describes none of these (the README's table comes from it): %v", undocumented)
	}
	table := "| value | type | default | description |\n| --- | --- | --- | --- |\n" + strings.Join(rows, "\n") + "\n"
	readmePath := filepath.Join(umbrellaDir(), "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- values:begin (generated from values.schema.json; RAPPORT_UPDATE_README=1 go test ./services/operator/internal/chart -run Readme) -->\n", "<!-- values:end -->"
	before, rest, ok1 := strings.Cut(string(readme), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the markers %q … %q", begin, end)
	}
	want := before + begin + table + end + after
	if want == string(readme) {
		return
	}
	if os.Getenv("RAPPORT_UPDATE_README") != "" {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("charts/rapport/README.md's values table is stale: run RAPPORT_UPDATE_README=1 go test ./services/operator/internal/chart -run Readme")
}

func typeOf(s map[string]any) string {
	if e, ok := s["enum"].([]any); ok {
		var vals []string
		for _, v := range e {
			b, _ := json.Marshal(v)
			vals = append(vals, "`"+strings.Trim(string(b), `"`)+"`")
			if v == "" {
				vals[len(vals)-1] = "`\"\"`"
			}
		}
		return "one of " + strings.Join(vals, ", ")
	}
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		var ts []string
		for _, x := range t {
			ts = append(ts, fmt.Sprint(x))
		}
		return strings.Join(ts, " or ")
	}
	return "object"
}

func defaultOf(v any) string {
	if v == nil {
		return "—"
	}
	b, _ := json.Marshal(v)
	s := string(b)
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}
