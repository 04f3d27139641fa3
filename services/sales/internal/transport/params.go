package transport

import (
	"context"
	"net/http"
	"slices"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// withParams refuses what a route's decoder would otherwise ignore (a
// query parameter the route does not take or one given twice:
// httpkit.KnownParams). The refusal joins the decoder's own 422 when it has
// one, so a client hears every problem at once; another refusal of the
// decoder (a 404 for an id that names nothing) stands.
func withParams(dec kithttp.DecodeRequestFunc, params []string) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		req, err := dec(ctx, r)
		var fields []apperr.FieldError
		if e, ok := apperr.As(httpkit.KnownParams(r, params...)); ok {
			fields = e.Fields
		}
		if len(fields) == 0 {
			return req, err
		}
		if err == nil {
			var v apperr.Invalid
			for _, f := range fields {
				v.Add(f.Field, f.Message)
			}
			return nil, v.Err()
		}
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindInvalid {
			return nil, &apperr.Error{Kind: e.Kind, Slug: e.Slug, Message: e.Message, Fields: append(slices.Clip(e.Fields), fields...),
				Extensions: e.Extensions, Cause: e.Cause}
		}
		return nil, err
	}
}
