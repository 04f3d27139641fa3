package httpkit

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// KnownParams refuses query parameters an operation does not take, and
// those given more than once, with a validation problem naming each
// (sorted): a misspelt filter or order (?sort_by=name) would otherwise be
// ignored, and a repeated one would count only once, so the answer would look
// right while holding other rows than asked for. A name ending in "."
// admits every parameter it prefixes (custom. admits custom.<key>).
func KnownParams(r *http.Request, names ...string) error {
	q := r.URL.Query()
	var bad []string
	for p, vs := range q {
		if !takes(names, p) || len(vs) > 1 {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	var v apperr.Invalid
	for _, p := range bad {
		switch {
		case takes(names, p):
			v.Add(p, "must be given once")
		case len(names) == 0:
			v.Add(p, "not a parameter of this operation; it takes none")
		default:
			v.Add(p, "not a parameter of this operation; it takes "+strings.Join(names, ", "))
		}
	}
	return v.Err()
}

// takes tells whether an operation taking names takes the parameter p.
func takes(names []string, p string) bool {
	return slices.ContainsFunc(names, func(n string) bool {
		if strings.HasSuffix(n, ".") {
			return strings.HasPrefix(p, n) && len(p) > len(n)
		}
		return p == n
	})
}

// Decoder reads a request into an endpoint's request (go-kit's
// DecodeRequestFunc has this shape).
type Decoder = func(context.Context, *http.Request) (any, error)

// WithParams refuses what a route's decoder would otherwise ignore: a query
// parameter the route does not take, or one given twice (KnownParams). The
// refusal joins the decoder's own 422 when it has one, so a client hears
// every problem at once; another refusal of the decoder (a 404 for an id
// that names nothing) stands. A parameter the route does not take never
// reaches the decoder, which would judge its value (a cursor sent to an
// export) where the only thing to say is that it does not belong.
func WithParams(dec Decoder, params []string) Decoder {
	return func(ctx context.Context, r *http.Request) (any, error) {
		known, refused := apperr.As(KnownParams(r, params...))
		if !refused {
			return dec(ctx, r)
		}
		q := r.URL.Query()
		for p := range q {
			if !takes(params, p) {
				q.Del(p)
			}
		}
		u := *r.URL
		u.RawQuery = q.Encode()
		taken := r.WithContext(ctx)
		taken.URL = &u
		_, err := dec(ctx, taken)
		if err == nil {
			return nil, known
		}
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindInvalid {
			return nil, &apperr.Error{Kind: e.Kind, Slug: e.Slug, Message: e.Message, Fields: append(slices.Clip(e.Fields), known.Fields...),
				Extensions: e.Extensions, Cause: e.Cause}
		}
		return nil, err
	}
}
