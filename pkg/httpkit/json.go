package httpkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// DecodeJSON decodes the request body into v strictly: a JSON media type
// in UTF-8, exactly one JSON value, no unknown fields. A body of another
// Content-Type (or none) is KindUnsupportedMediaType. A malformed, empty or
// trailing body, an unknown field, invalid UTF-8 anywhere (encoding/json
// would store U+FFFD instead) and a key repeated in an object (it would
// keep only the last) are KindBadRequest; a value of the wrong JSON type is
// KindInvalid naming the field; a body over the limit is KindTooLarge.
func DecodeJSON(r *http.Request, v any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return emptyBody()
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	// Content-Length is the client's word, not bytes received: sizing by it
	// only up to what the pool keeps, a request announcing megabytes pins
	// no more before they arrive (a larger body grows the buffer as read).
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, bodyLimit(r.Context()), maxPooledBody)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return decodeError(err)
	}
	if err := decodeStrict(buf.Bytes(), v); err != nil {
		return err
	}
	// Only a \u0000 escape makes a NUL (a raw one is not JSON); most bodies
	// skip the walk.
	if !bytes.Contains(buf.Bytes(), []byte(`\u0000`)) {
		return nil
	}
	if path, bad := findNUL(reflect.ValueOf(v), ""); bad {
		var inv apperr.Invalid
		inv.Add(strings.TrimPrefix(path, "/"), "text may not contain NUL characters (\\u0000)")
		return inv.Err()
	}
	return nil
}

// decodeStrict decodes exactly one JSON value in valid UTF-8, with no
// unknown fields and no key repeated, into v.
func decodeStrict(body []byte, v any) error {
	if off := invalidUTF8(body); off >= 0 {
		return invalidUTF8Error(off)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.KindBadRequest, "malformed-json", "the request body must hold a single JSON value; found more after it")
	}
	return checkJSONStrings(body)
}

// bodyBuffers hold request bodies while they are checked and decoded;
// encoding/json copies what it keeps, so a buffer is reused once decoded.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer the pool keeps.
const maxPooledBody = 64 << 10

func putBodyBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody+bytes.MinRead {
		return // a rare large body should not pin its memory
	}
	b.Reset()
	bodyBuffers.Put(b)
}

// findNUL looks for a string holding U+0000 (valid JSON, refused by
// PostgreSQL text) anywhere in a decoded value, and names where.
func findNUL(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return path, strings.IndexByte(v.String(), 0) >= 0
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return findNUL(v.Elem(), path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			// An untagged field (a Nullable's value) adds no segment.
			sub := path
			if name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]; name != "" {
				sub += "/" + name
			}
			if p, bad := findNUL(v.Field(i), sub); bad {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if p, bad := findNUL(v.Index(i), path+"/"+strconv.Itoa(i)); bad {
				return p, true
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			key := fmt.Sprint(iter.Key().Interface())
			if strings.IndexByte(key, 0) >= 0 {
				return path, true
			}
			if p, bad := findNUL(iter.Value(), path+"/"+key); bad {
				return p, true
			}
		}
	}
	return "", false
}

func emptyBody() error {
	return apperr.New(apperr.KindBadRequest, "empty-body", "the request needs a JSON body")
}

func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		badTarget *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooLarge):
		return tooLargeError(tooLarge)
	case errors.Is(err, io.EOF):
		return emptyBody()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "malformed-json", Message: "the request body is not valid JSON: it ends too early", Cause: err}
	case errors.As(err, &syntax):
		return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "malformed-json",
			Message: fmt.Sprintf("the request body is not valid JSON at byte %d: %s", syntax.Offset, syntax.Error()), Cause: err}
	case errors.As(err, &typ):
		field := fieldPath(typ.Field)
		var inv apperr.Invalid
		if field == "" {
			return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "malformed-json",
				Message: "the request body must be " + jsonKind(typ.Type.Kind().String()), Cause: err}
		}
		inv.Add(field, "must be "+jsonKind(typ.Type.Kind().String())+" (got "+typ.Value+")")
		return inv.Err()
	case errors.As(err, &badTarget):
		return err
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			name = n
		}
		return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "unknown-field", Message: fmt.Sprintf("the request has an unknown field %q", name),
			Fields: []apperr.FieldError{{Field: name, Message: "is not a known field"}}}
	}
	return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "malformed-json", Message: "the request body could not be read as JSON", Cause: err}
}

// fieldPath turns encoding/json's dotted path into the JSON-pointer-like
// form field errors use ("address.lines.1" → "address/lines/1").
func fieldPath(p string) string { return strings.ReplaceAll(p, ".", "/") }

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	default:
		return "a value of another type"
	}
}

// EncodeJSON is the go-kit EncodeResponseFunc of every service: a response
// that reports a failure (endpoint.Failer) is encoded with EncodeError;
// otherwise it is written as JSON with the status of a
// kithttp.StatusCoder (200 by default) and the headers of a kithttp.Headerer.
func EncodeJSON(ctx context.Context, w http.ResponseWriter, response any) error {
	if f, ok := response.(endpoint.Failer); ok && f.Failed() != nil {
		EncodeError(ctx, f.Failed(), w)
		return nil
	}
	status := http.StatusOK
	if sc, ok := response.(kithttp.StatusCoder); ok {
		status = sc.StatusCode()
	}
	var body []byte
	if status != http.StatusNoContent && status != http.StatusNotModified && response != nil {
		var buf bytes.Buffer
		// Encode before writing anything, so a failure can still answer 500.
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(response); err != nil {
			EncodeError(ctx, fmt.Errorf("httpkit: encode response: %w", err), w)
			return nil
		}
		body = buf.Bytes()
	}
	h := w.Header()
	if hr, ok := response.(kithttp.Headerer); ok {
		for k, vs := range hr.Headers() {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
