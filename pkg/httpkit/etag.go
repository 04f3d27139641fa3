package httpkit

import (
	"net/http"
	"strconv"

	"github.com/rapportcrm/rapport/pkg/access"
)

// ETag is the strong entity tag of a row's version: the quoted number.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// IfMatch reads the If-Match header as RFC 9110 defines it: absent, "*" or
// a list of entity tags (see access.IfMatch for how it matches). Only a
// header that breaks the syntax is an error (KindBadRequest); the caller
// decides whether an absent one answers 428.
func IfMatch(r *http.Request) (access.IfMatch, error) {
	return access.ParseIfMatch(r.Header.Values("If-Match"))
}
