// Package apperr gives errors a kind and a slug. Domain and service code
// return them; each transport maps kinds to its own status codes in exactly
// one place (httpkit.EncodeError for HTTP).
package apperr

import (
	"errors"
	"fmt"
	"slices"
)

// Kind classifies an error for the transports.
type Kind int

const (
	KindInternal             Kind = iota // a bug or an outage: 500
	KindInvalid                          // values that break the rules: 422, with field errors
	KindBadRequest                       // malformed request: 400
	KindUnauthorized                     // no or bad credentials: 401
	KindForbidden                        // credentials fine, action not allowed: 403
	KindNotFound                         // missing, or another tenant's: 404
	KindConflict                         // clashes with current state: 409
	KindPreconditionFailed               // stale If-Match: 412
	KindPreconditionRequired             // If-Match missing where required: 428
	KindTooLarge                         // body over the limit: 413
	KindRateLimited                      // too many requests: 429
	KindUnavailable                      // a dependency is down: 503
	KindUnsupportedMediaType             // a body of a type the endpoint does not take: 415
)

// FieldError names one offending field by its JSON path, e.g. "emails/1".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error with a kind, a stable slug (the problem type's last path
// segment) and optional field errors and extensions.
type Error struct {
	Kind    Kind
	Slug    string
	Message string
	Fields  []FieldError
	// Extensions are extra problem members, e.g. "retry_after" or "duplicates".
	Extensions map[string]any
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Slug, e.Message, e.Cause)
	}
	return e.Slug + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New makes an error of a kind.
func New(kind Kind, slug, message string) *Error {
	return &Error{Kind: kind, Slug: slug, Message: message}
}

// NotFound is the answer for a missing object and for another tenant's.
func NotFound(what string) *Error {
	return New(KindNotFound, "not-found", what+" not found")
}

// Invalid collects field errors; Err returns nil when there are none.
type Invalid struct{ fields []FieldError }

// Add records a field error.
func (v *Invalid) Add(field, message string) { v.fields = append(v.fields, FieldError{field, message}) }

// Err is a KindInvalid error listing every field error, or nil.
func (v *Invalid) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Slug: "validation", Message: "the request has invalid values", Fields: v.fields}
}

// Field is the KindInvalid error of one field.
func Field(field, message string) error {
	var v Invalid
	v.Add(field, message)
	return v.Err()
}

// KindOf reports the kind of err (KindInternal for foreign errors).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// As extracts an *Error.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Before reports fields ahead of what err reports: with err's own field
// errors when it is a validation error (Invalid's), else fields alone, so
// a request whose values could not even be read is refused for them
// first. Without fields it returns err.
func Before(fields []FieldError, err error) error {
	if len(fields) == 0 {
		return err
	}
	v := Invalid{fields: slices.Clone(fields)}
	if e, ok := As(err); ok && e.Kind == KindInvalid && e.Slug == "validation" {
		v.fields = append(v.fields, e.Fields...)
	}
	return v.Err()
}
