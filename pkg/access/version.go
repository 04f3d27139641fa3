// Package access holds the rules that decide whether a caller may act on a
// record; this file holds the version rule, a request's If-Match condition.
package access

import (
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// IfMatch is an If-Match condition (RFC 9110 §13.1.1): absent (no
// condition), "*" (any existing version) or a list of entity tags. The zero
// value is absent.
type IfMatch struct {
	given bool
	any   bool
	// tags are the opaque contents of the strong tags; weak tags never
	// match under strong comparison, so they are not kept.
	tags []string
}

// Version is the condition a client states by sending back the ETag of
// version v.
func Version(v int64) IfMatch {
	return IfMatch{given: true, tags: []string{strconv.FormatInt(v, 10)}}
}

// AnyVersion is If-Match: *.
func AnyVersion() IfMatch { return IfMatch{given: true, any: true} }

// Given reports whether the request stated a condition.
func (m IfMatch) Given() bool { return m.given }

// Holds reports whether a record at version current (it exists) satisfies
// the condition. A strong tag "N" names version N byte for byte, as strong
// comparison demands: "07" is not version 7.
func (m IfMatch) Holds(current int64) bool {
	if !m.given || m.any {
		return true
	}
	var buf [20]byte
	v := strconv.AppendInt(buf[:0], current, 10)
	for _, t := range m.tags {
		if t == string(v) {
			return true
		}
	}
	return false
}

// ErrVersionMismatch answers a write whose If-Match names another version.
var ErrVersionMismatch = apperr.New(apperr.KindPreconditionFailed, "version-mismatch",
	"the record changed since you read it; fetch it again and retry")

// Check is nil when a record at version current satisfies the condition,
// else ErrVersionMismatch.
func (m IfMatch) Check(current int64) error {
	if !m.Holds(current) {
		return ErrVersionMismatch
	}
	return nil
}

// ErrInvalidIfMatch is the answer to an If-Match that is not "*" or a list
// of entity tags.
var ErrInvalidIfMatch = apperr.New(apperr.KindBadRequest, "invalid-if-match",
	`If-Match must be * or a comma-separated list of entity tags, like "7" or W/"7"`)

// ParseIfMatch reads the field lines of If-Match. No lines, or only blank
// ones, is absent. A tag this API never made is valid and simply never
// matches; only a field that breaks the syntax is ErrInvalidIfMatch.
func ParseIfMatch(lines []string) (IfMatch, error) {
	s := strings.Trim(strings.Join(lines, ","), " \t")
	if s == "" {
		return IfMatch{}, nil
	}
	if s == "*" {
		return AnyVersion(), nil
	}
	m := IfMatch{given: true}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return m, nil
		}
		if s[0] == ',' {
			// Empty list elements are allowed and ignored (RFC 9110 §5.6.1).
			s = s[1:]
			continue
		}
		weak := strings.HasPrefix(s, `W/`)
		if weak {
			s = s[2:]
		}
		tag, rest, ok := opaqueTag(s)
		if !ok {
			return IfMatch{}, ErrInvalidIfMatch
		}
		if !weak {
			m.tags = append(m.tags, tag)
		}
		s = strings.TrimLeft(rest, " \t")
		if s != "" && s[0] != ',' {
			return IfMatch{}, ErrInvalidIfMatch
		}
	}
}

// opaqueTag reads DQUOTE *etagc DQUOTE from the start of s.
func opaqueTag(s string) (tag, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return s[1:i], s[i+1:], true
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80:
		default:
			return "", s, false
		}
	}
	return "", s, false
}
