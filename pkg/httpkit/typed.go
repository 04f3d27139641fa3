package httpkit

import (
	"context"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
)

// Response is what a typed go-kit endpoint answers: its use case's result
// of type T, or the business error the transport renders as a problem
// (it implements go-kit's endpoint.Failer).
type Response[T any] struct {
	Value T
	Err   error
}

// Failed implements endpoint.Failer.
func (r Response[T]) Failed() error { return r.Err }

// Done is the answer of a use case that returns nothing (a deletion).
type Done = Response[struct{}]

// Ref names one record of a request: its id from the path and the version
// If-Match requires (absent when not given).
type Ref struct {
	ID      uuid.UUID
	IfMatch access.IfMatch
}

// PathID reads the path parameter name as a record's id; an id that is no
// UUID names nothing, so it is notFound, as a missing record is.
func PathID(r *http.Request, name string, notFound error) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.Nil, notFound
	}
	return id, nil
}

// PathRef reads the record the path's {id} names and the request's
// If-Match.
func PathRef(r *http.Request, notFound error) (Ref, error) {
	id, err := PathID(r, "id", notFound)
	if err != nil {
		return Ref{}, err
	}
	v, err := IfMatch(r)
	return Ref{ID: id, IfMatch: v}, err
}

// PathRefBody reads the record the path's {id} names, the If-Match and
// the JSON body: a change of one record.
func PathRefBody[T any](r *http.Request, notFound error) (Ref, T, error) {
	var body T
	ref, err := PathRef(r, notFound)
	if err != nil {
		return ref, body, err
	}
	return ref, body, DecodeJSON(r, &body)
}

// DecodeOptionalJSON is DecodeJSON for a body a request may leave out
// (none, or empty): then v stays as it is.
func DecodeOptionalJSON(r *http.Request, v any) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	return DecodeJSON(r, v)
}

// DecodeRef is a decoder of requests that name one record and nothing more.
func DecodeRef(notFound error) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) { return PathRef(r, notFound) }
}

// View renders a result as its JSON body and its version (0: no ETag).
type View[T any] func(T) (body any, version int64)

// Encode writes a Response: its error as a problem, or its view with
// status and, when it has a version, its ETag.
func Encode[T any](status int, render View[T]) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, resp any) error {
		r := resp.(Response[T])
		if r.Err != nil {
			EncodeError(ctx, r.Err, w)
			return nil
		}
		body, version := render(r.Value)
		if version > 0 {
			w.Header().Set("ETag", ETag(version))
		}
		return WriteJSON(w, status, body)
	}
}

// EncodeCreated is Encode for a new record of collection, whose id idOf
// reads: 201 with its Location.
func EncodeCreated[T any](collection string, render View[T], idOf func(T) uuid.UUID) kithttp.EncodeResponseFunc {
	enc := Encode(http.StatusCreated, render)
	return func(ctx context.Context, w http.ResponseWriter, resp any) error {
		if r := resp.(Response[T]); r.Err == nil {
			w.Header().Set("Location", collection+"/"+idOf(r.Value).String())
		}
		return enc(ctx, w, resp)
	}
}

// EncodeDone writes a Done: its error as a problem, else 204.
func EncodeDone(ctx context.Context, w http.ResponseWriter, resp any) error {
	if err := resp.(Done).Err; err != nil {
		EncodeError(ctx, err, w)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
