package httpkit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Page is one page of a list: {"items":[…],"next_cursor":"…"}; no
// next_cursor means the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// EncodeCursor makes an opaque cursor of v (base64url of its JSON).
func EncodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Cursors are small structs of ids and times; failing to encode one is a bug.
		panic("httpkit: encode cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor EncodeCursor made into v. Anything else is
// KindInvalid on the field "cursor".
func DecodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = decodeStrict(b, v)
	}
	if err == nil && bytes.Contains(b, []byte(`\u0000`)) {
		err = errNUL
	}
	if err != nil {
		var inv apperr.Invalid
		inv.Add("cursor", "is not a cursor this API issued; start again without it")
		return inv.Err()
	}
	return nil
}

var errNUL = apperr.New(apperr.KindBadRequest, "malformed-json", "a NUL character")

// ParseLimit reads the limit query parameter: def when absent, otherwise a
// whole number in [1, max], else KindInvalid on the field "limit".
func ParseLimit(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		var inv apperr.Invalid
		inv.Add("limit", "must be a whole number from 1 to "+strconv.Itoa(max))
		return 0, inv.Err()
	}
	return n, nil
}

// ParseBool reads the query parameter name as true or false (absent is
// false); anything else is a field error naming the parameter.
func ParseBool(r *http.Request, name string) (bool, error) {
	switch s := r.URL.Query().Get(name); s {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	var inv apperr.Invalid
	inv.Add(name, "must be true or false")
	return false, inv.Err()
}

// OptionalID reads an optional id from a request: "" is none (uuid.Nil),
// anything else must be a UUID, or v gets an error on field.
func OptionalID(v *apperr.Invalid, field, s string) uuid.UUID {
	if s == "" {
		return uuid.Nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		v.Add(field, "must be an id (UUID)")
	}
	return id
}

// PatchID reads an id a change gives: absent is nil (left alone), null or
// "" is uuid.Nil (cleared), anything else must be a UUID, or v gets an
// error on field.
func PatchID(v *apperr.Invalid, field string, n Nullable[string]) *uuid.UUID {
	if !n.Set {
		return nil
	}
	id := OptionalID(v, field, n.Value)
	return &id
}
