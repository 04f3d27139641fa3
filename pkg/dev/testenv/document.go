package testenv

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Document is an OpenAPI document read for tests: its operations with
// their parameters resolved, and a router that finds the operation a
// request reaches the way net/http's ServeMux does.
type Document struct {
	Title string
	Raw   []byte
	Ops   []*Operation
	root  map[string]any
}

// Operation is one method of one path of a document.
type Operation struct {
	Method string // upper case
	Path   string // the template, e.g. /v1/contacts/{id}
	ID     string
	// Summary and Description are the operation's prose.
	Summary, Description string
	Params               []Param
	Body                 *Body          // nil when the operation takes none
	Responses            map[string]any // status (or "default") to the resolved Response Object
	Security             []any          // nil: the document's
}

// Param is a parameter of an operation (path-level ones included).
type Param struct {
	Name, In string
	Required bool
	Schema   map[string]any // as written: may hold a $ref (see Document.Resolve)
}

// Body is an operation's request body: its first media type.
type Body struct {
	Required  bool
	MediaType string
	Schema    map[string]any
	// Examples are the media type's example values (example, then examples).
	Examples []any
}

// Methods are the HTTP methods a Path Item may describe.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

// ParseDocument reads an OpenAPI document (JSON).
func ParseDocument(raw []byte) (*Document, error) {
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("the document is not JSON: %w", err)
	}
	d := &Document{Raw: raw, root: root}
	info, _ := root["info"].(map[string]any)
	d.Title, _ = info["title"].(string)
	paths, _ := root["paths"].(map[string]any)
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		item := d.Resolve(paths[p].(map[string]any))
		shared, err := d.params(item["parameters"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, m := range Methods {
			raw, ok := item[strings.ToLower(m)].(map[string]any)
			if !ok {
				continue
			}
			op := &Operation{Method: m, Path: p, Responses: map[string]any{}}
			op.ID, _ = raw["operationId"].(string)
			op.Summary, _ = raw["summary"].(string)
			op.Description, _ = raw["description"].(string)
			if sec, ok := raw["security"].([]any); ok {
				op.Security = sec
			}
			own, err := d.params(raw["parameters"])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, p, err)
			}
			// An operation's parameter overrides a path-level one of the same name and location.
			op.Params = append(op.Params, own...)
			for _, s := range shared {
				if !slices.ContainsFunc(own, func(o Param) bool { return o.Name == s.Name && o.In == s.In }) {
					op.Params = append(op.Params, s)
				}
			}
			if rb, ok := raw["requestBody"].(map[string]any); ok {
				op.Body = d.body(d.Resolve(rb))
			}
			if rs, ok := raw["responses"].(map[string]any); ok {
				for code, r := range rs {
					if rm, ok := r.(map[string]any); ok {
						op.Responses[code] = d.Resolve(rm)
					}
				}
			}
			d.Ops = append(d.Ops, op)
		}
	}
	return d, nil
}

func (d *Document) params(v any) ([]Param, error) {
	list, _ := v.([]any)
	var out []Param
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parameter %v is no object", x)
		}
		m = d.Resolve(m)
		p := Param{}
		p.Name, _ = m["name"].(string)
		p.In, _ = m["in"].(string)
		p.Required, _ = m["required"].(bool)
		p.Schema, _ = m["schema"].(map[string]any)
		if p.Name == "" || p.In == "" {
			return nil, fmt.Errorf("parameter %v has no name or location", x)
		}
		out = append(out, p)
	}
	return out, nil
}

func (d *Document) body(rb map[string]any) *Body {
	b := &Body{}
	b.Required, _ = rb["required"].(bool)
	content, _ := rb["content"].(map[string]any)
	types := make([]string, 0, len(content))
	for mt := range content {
		types = append(types, mt)
	}
	slices.Sort(types)
	// JSON first: it is what the tests send.
	slices.SortStableFunc(types, func(a, b string) int {
		return boolInt(!strings.Contains(a, "json")) - boolInt(!strings.Contains(b, "json"))
	})
	if len(types) == 0 {
		return b
	}
	b.MediaType = types[0]
	mt, _ := content[b.MediaType].(map[string]any)
	b.Schema, _ = mt["schema"].(map[string]any)
	if ex, ok := mt["example"]; ok {
		b.Examples = append(b.Examples, ex)
	}
	if exs, ok := mt["examples"].(map[string]any); ok {
		names := make([]string, 0, len(exs))
		for n := range exs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if ex, ok := exs[n].(map[string]any); ok {
				if v, ok := d.Resolve(ex)["value"]; ok {
					b.Examples = append(b.Examples, v)
				}
			}
		}
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Resolve follows an object's local $ref (repeatedly); other objects come
// back as they are, and so does a reference to nothing.
func (d *Document) Resolve(m map[string]any) map[string]any {
	for i := 0; i < 32; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, ok := d.Pointer(ref).(map[string]any)
		if !ok {
			return m
		}
		m = target
	}
	return m
}

// Pointer is what a local reference ("#/components/schemas/Deal") points
// at, or nil.
func (d *Document) Pointer(ref string) any {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	var cur any = d.root
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if seg == "" {
			continue
		}
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			if cur, ok = c[seg]; !ok {
				return nil
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(seg, &i); err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// Root is the document as decoded JSON.
func (d *Document) Root() map[string]any { return d.root }

// Route is "METHOD /template".
func (o *Operation) Route() string { return o.Method + " " + o.Path }

// Routes are the document's routes, "METHOD /template", sorted.
func (d *Document) Routes() []string {
	out := make([]string, 0, len(d.Ops))
	for _, o := range d.Ops {
		out = append(out, o.Route())
	}
	slices.Sort(out)
	return out
}

// Match finds the operation a request for method and path reaches, the
// way ServeMux chooses: among the templates that match the path and
// describe the method, the most specific (a literal segment beats a
// parameter). HEAD must be described as such: a document that describes
// only GET does not describe HEAD. pathKnown tells whether some template
// matches the path at all.
func (d *Document) Match(method, path string) (op *Operation, pathKnown bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, o := range d.Ops {
		if !matches(o.Path, segs) {
			continue
		}
		pathKnown = true
		if o.Method != method {
			continue
		}
		if op == nil || moreSpecific(o.Path, op.Path) {
			op = o
		}
	}
	return op, pathKnown
}

// Param is the operation's parameter of that name and location, or nil.
func (o *Operation) Param(in, name string) *Param {
	for i := range o.Params {
		if o.Params[i].In == in && o.Params[i].Name == name {
			return &o.Params[i]
		}
	}
	return nil
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

func matches(template string, segs []string) bool {
	ts := strings.Split(strings.Trim(template, "/"), "/")
	if len(ts) != len(segs) {
		return false
	}
	for i, s := range ts {
		if isParam(s) {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if s != segs[i] {
			return false
		}
	}
	return true
}

// moreSpecific tells whether template a beats b for a path both match.
func moreSpecific(a, b string) bool {
	as, bs := strings.Split(strings.Trim(a, "/"), "/"), strings.Split(strings.Trim(b, "/"), "/")
	for i := range as {
		if isParam(as[i]) != isParam(bs[i]) {
			return !isParam(as[i])
		}
	}
	return false
}
