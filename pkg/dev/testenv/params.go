package testenv

import (
	"slices"
	"strings"
	"testing"
)

// CheckQueryParams holds a service's table of the query parameters each
// route takes (the one httpkit.WithParams enforces, keyed "METHOD
// /template") to its OpenAPI document: every operation's query parameters
// are exactly its route's entry (HEAD's are GET's), and a prefix entry
// ("custom.") is one the operation's description names (GET's, for HEAD). A route the table
// names must be in the document.
func CheckQueryParams(t testing.TB, raw []byte, table map[string][]string) {
	t.Helper()
	d, err := ParseDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	routes := d.Routes()
	for route := range table {
		if !slices.Contains(routes, route) {
			t.Errorf("the table names %s, which the document does not describe", route)
		}
	}
	for _, op := range d.Ops {
		key := op.Route()
		if op.Method == "HEAD" {
			key = "GET " + op.Path
		}
		var documented, taken []string
		for _, p := range op.Params {
			if p.In == "query" {
				documented = append(documented, p.Name)
			}
		}
		for _, n := range table[key] {
			if strings.HasSuffix(n, ".") {
				if op.Method != "HEAD" && !strings.Contains(op.Description, n) {
					t.Errorf("%s takes %s<name>, which its description does not mention", op.Route(), n)
				}
				continue
			}
			taken = append(taken, n)
		}
		slices.Sort(documented)
		slices.Sort(taken)
		if !slices.Equal(documented, taken) {
			t.Errorf("%s: the document lists the query parameters %q, the service takes %q", op.Route(), documented, taken)
		}
	}
}
