package httpkit

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// ContentTypeJSON is the media type of request and response bodies.
const ContentTypeJSON = "application/json"

// IsJSONMediaType reports whether a Content-Type names JSON in UTF-8:
// application/json or a structured application/*+json type, with no
// charset or charset=utf-8 (RFC 8259 §8.1 allows no other).
func IsJSONMediaType(contentType string) bool {
	if contentType == ContentTypeJSON {
		return true
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if mt != ContentTypeJSON && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// mediaTypeError is a 415 that also says, in the Accept-Post or
// Accept-Patch header, which media type the method takes.
type mediaTypeError struct {
	err          *apperr.Error
	acceptHeader string
}

func (e *mediaTypeError) Error() string { return e.err.Error() }
func (e *mediaTypeError) Unwrap() error { return e.err }

// requireJSON refuses a body that does not declare itself JSON: a form or
// text body is not read as JSON on a guess.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if IsJSONMediaType(ct) {
		return nil
	}
	got := "no Content-Type"
	if ct != "" {
		if len(ct) > 100 {
			ct = ct[:100] + "…"
		}
		got = "Content-Type " + strings.ToValidUTF8(ct, "?")
	}
	e := &mediaTypeError{err: apperr.New(apperr.KindUnsupportedMediaType, "unsupported-media-type",
		"the request body must be JSON in UTF-8, sent with Content-Type: application/json; the request has "+got)}
	switch r.Method {
	case http.MethodPost:
		e.acceptHeader = "Accept-Post"
	case http.MethodPatch:
		e.acceptHeader = "Accept-Patch"
	}
	return e
}

// setAcceptHeader names the accepted media type on a 415 from requireJSON.
func setAcceptHeader(err error, h http.Header) {
	var e *mediaTypeError
	if errors.As(err, &e) && e.acceptHeader != "" {
		h.Set(e.acceptHeader, ContentTypeJSON)
	}
}
