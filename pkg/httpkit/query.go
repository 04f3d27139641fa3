package httpkit

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// KnownParams refuses query parameters an operation does not take, with a
// validation problem naming each (sorted): a misspelt filter or order
// (?sort_by=name) would otherwise be ignored, and the answer would look
// right while holding other rows than asked for. A name ending in "."
// admits every parameter it prefixes (custom. admits custom.<key>).
func KnownParams(r *http.Request, names ...string) error {
	var unknown []string
	for p := range r.URL.Query() {
		if !slices.ContainsFunc(names, func(n string) bool {
			if strings.HasSuffix(n, ".") {
				return strings.HasPrefix(p, n) && len(p) > len(n)
			}
			return p == n
		}) {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	var v apperr.Invalid
	for _, p := range unknown {
		v.Add(p, "not a parameter of this operation; it takes "+strings.Join(names, ", "))
	}
	return v.Err()
}
