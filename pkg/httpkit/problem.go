// Package httpkit is the HTTP toolkit every service's go-kit transport uses:
// RFC 9457 problem responses and the one mapping from error kinds to status
// codes, strict JSON decoding, cursor pagination, ETags, request-id, body
// limit, panic recovery, access-log and tracing middlewares, Idempotency-Key
// replay and the health endpoints.
package httpkit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// ProblemBase prefixes a problem's slug to make its type URI.
const ProblemBase = "https://rapport.dev/problems/"

// ContentTypeProblem is the media type of problem responses.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem detail. Extensions are flattened into the
// top-level object; they cannot replace the standard members.
type Problem struct {
	Type       string              `json:"type"`
	Title      string              `json:"title"`
	Status     int                 `json:"status"`
	Detail     string              `json:"detail,omitempty"`
	Instance   string              `json:"instance,omitempty"`
	Errors     []apperr.FieldError `json:"errors,omitempty"`
	Extensions map[string]any      `json:"-"`
}

// ProblemType is the type URI of the problem with slug.
func ProblemType(slug string) string {
	if slug == "" {
		return "about:blank"
	}
	return ProblemBase + slug
}

// MarshalJSON flattens the extensions next to the standard members.
func (p Problem) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(p.Extensions)+6)
	for k, v := range p.Extensions {
		m[k] = v
	}
	m["type"] = p.Type
	m["title"] = p.Title
	m["status"] = p.Status
	for k, v := range map[string]string{"detail": p.Detail, "instance": p.Instance} {
		if v != "" {
			m[k] = v
		} else {
			delete(m, k)
		}
	}
	if len(p.Errors) > 0 {
		m["errors"] = p.Errors
	} else {
		delete(m, "errors")
	}
	return marshalNoHTMLEscape(m)
}

// marshalNoHTMLEscape is json.Marshal without its HTML escaping: a detail
// that quotes "<b>" must read <b>, and no API body is ever HTML.
func marshalNoHTMLEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteProblem writes p as application/problem+json. Missing members are
// filled in: type "about:blank", the status's title, status 500, and a
// request_id extension from r's context so a user can quote it. r may be nil.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if r != nil {
		if id := telemetry.RequestID(r.Context()); id != "" {
			if _, set := p.Extensions["request_id"]; !set {
				ext := make(map[string]any, len(p.Extensions)+1)
				for k, v := range p.Extensions {
					ext[k] = v
				}
				ext["request_id"] = id
				p.Extensions = ext
			}
		}
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	body, err := marshalNoHTMLEscape(p)
	if err != nil {
		// An extension that cannot be encoded must not cost the client its answer.
		p.Extensions = nil
		body, _ = marshalNoHTMLEscape(p)
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("ETag")
	h.Del("Last-Modified")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}
