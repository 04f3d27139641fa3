package testenv

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// CheckRoutes holds the routes a running service serves and the routes
// its OpenAPI document describes equal, HEAD included.
//
// ServeMux cannot list its patterns, so the served routes are found by
// asking: every path the document names and every /v1/ path literal in
// the service's Go source (sourceDirs, searched recursively; a new route
// is such a literal) is requested with every method, path parameters
// filled with ids that name nothing, bodies empty. A route is served
// unless the service's mux refuses it: 405, or the 404 httpkit.ProblemMux
// writes for a path no pattern matches ("no resource at …"). token must
// be admitted by the service, so that authentication lets the probe reach
// the mux.
func CheckRoutes(t testing.TB, baseURL, token string, doc []byte, sourceDirs ...string) {
	t.Helper()
	d, err := ParseDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	candidates := map[string]bool{}
	literal := map[string]bool{} // fully literal paths of the source
	for _, op := range d.Ops {
		candidates[op.Path] = true
	}
	for _, dir := range sourceDirs {
		for _, p := range routeLiterals(t, dir) {
			candidates[p] = true
			literal[p] = !strings.Contains(p, "{")
		}
	}
	paths := make([]string, 0, len(candidates))
	for p := range candidates {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	served := map[string]bool{} // "METHOD /template" as the document would name it
	for _, template := range paths {
		path := instance(template)
		getServed := false
		for _, m := range Methods {
			status, ok := probe(t, baseURL, token, m, path)
			if m == http.MethodGet {
				getServed = ok
			}
			// A HEAD answer has no body to tell the mux's 404 from a
			// missing record's: HEAD is served where GET is (ServeMux
			// answers HEAD with GET's handler) or where it answers.
			if m == http.MethodHead && status == http.StatusNotFound {
				ok = getServed
			}
			if !ok {
				continue
			}
			op, _ := d.Match(m, path)
			if op == nil {
				t.Errorf("%s %s is served (answered %d) but the document does not describe it", m, template, status)
				continue
			}
			// A path the source spells out that answers other than a
			// missing record is a route of its own (like
			// /v1/contacts/openapi.json beside /v1/contacts/{id}): the
			// document must name it, not only a template it fits.
			if literal[template] && op.Path != template && status != http.StatusNotFound {
				t.Errorf("%s %s is served (answered %d) but the document describes it only as %s", m, template, status, op.Route())
				continue
			}
			served[op.Route()] = true
		}
	}
	for _, op := range d.Ops {
		if !served[op.Route()] {
			t.Errorf("the document describes %s, which the service does not serve", op.Route())
		}
	}
}

// probe sends one request and tells whether a route served it.
func probe(t testing.TB, baseURL, token, method, path string) (status int, served bool) {
	t.Helper()
	req, err := http.NewRequest(method, baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusMethodNotAllowed:
		return resp.StatusCode, false
	case http.StatusNotFound:
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(raw, &p)
		return resp.StatusCode, !strings.HasPrefix(p.Detail, "no resource at ")
	}
	return resp.StatusCode, true
}

// instance fills a template's parameters with an id that names nothing.
func instance(template string) string {
	segs := strings.Split(template, "/")
	for i, s := range segs {
		if isParam(s) {
			segs[i] = uuid.NewString()
		}
	}
	return strings.Join(segs, "/")
}

var routeLiteral = regexp.MustCompile(`^(?:[A-Z]+ )?(/v1/\S*)$`)

// routeLiterals are the /v1/ paths written as string literals in the Go
// source under dir (tests excluded), as templates: a {wildcard} or a %
// verb segment is a parameter.
func routeLiterals(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			m := routeLiteral.FindStringSubmatch(s)
			if m == nil {
				return true
			}
			segs := strings.Split(m[1], "/")
			for i, seg := range segs {
				if strings.HasPrefix(seg, "{") || strings.Contains(seg, "%") {
					segs[i] = "{p}"
				}
			}
			out = append(out, strings.Join(segs, "/"))
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("reading the routes of %s: %v", dir, err)
	}
	return out
}
