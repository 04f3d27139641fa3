package httpkit

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// ETag is the strong entity tag of a row's version: the quoted number.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// IfMatch reads the If-Match header. ok is false when it is absent (the
// caller decides whether to answer 428). "*" is ok with version 0, which
// means "whatever the current version is": the resource must exist but no
// version is checked. A weak tag, a list of tags or anything that is not a
// tag ETag made is KindBadRequest.
func IfMatch(r *http.Request) (version int64, ok bool, err error) {
	vs := r.Header.Values("If-Match")
	if len(vs) == 0 {
		return 0, false, nil
	}
	s := strings.TrimSpace(strings.Join(vs, ","))
	if s == "*" {
		return 0, true, nil
	}
	bad := apperr.New(apperr.KindBadRequest, "invalid-if-match",
		`If-Match must be one ETag from this API, like "7", or *`)
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false, bad
	}
	v, perr := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	if perr != nil || v < 1 {
		return 0, false, bad
	}
	return v, true, nil
}
