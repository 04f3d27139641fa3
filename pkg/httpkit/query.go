package httpkit

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// KnownParams refuses query parameters an operation does not take, and
// those given more than once, with a validation problem naming each
// (sorted): a misspelt filter or order (?sort_by=name) would otherwise be
// ignored, and a repeated one would count only once, so the answer would look
// right while holding other rows than asked for. A name ending in "."
// admits every parameter it prefixes (custom. admits custom.<key>).
func KnownParams(r *http.Request, names ...string) error {
	q := r.URL.Query()
	var bad []string
	for p, vs := range q {
		if !slices.ContainsFunc(names, func(n string) bool {
			if strings.HasSuffix(n, ".") {
				return strings.HasPrefix(p, n) && len(p) > len(n)
			}
			return p == n
		}) || len(vs) > 1 {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	var v apperr.Invalid
	for _, p := range bad {
		switch {
		case len(q[p]) > 1 && slices.ContainsFunc(names, func(n string) bool { return n == p || strings.HasSuffix(n, ".") && strings.HasPrefix(p, n) }):
			v.Add(p, "must be given once")
		case len(names) == 0:
			v.Add(p, "not a parameter of this operation; it takes none")
		default:
			v.Add(p, "not a parameter of this operation; it takes "+strings.Join(names, ", "))
		}
	}
	return v.Err()
}
