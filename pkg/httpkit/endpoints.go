package httpkit

import (
	"net/http"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
)

// Endpoints registers a service's go-kit endpoints on its mux the one way
// every service does: each route takes only the query parameters params
// names for its pattern (WithParams), and errors are problems
// (EncodeError).
type Endpoints struct {
	mux    *http.ServeMux
	params map[string][]string
	opts   []kithttp.ServerOption
}

// NewEndpoints registers on mux; opts come after the error encoder.
func NewEndpoints(mux *http.ServeMux, params map[string][]string, opts ...kithttp.ServerOption) Endpoints {
	return Endpoints{mux: mux, params: params, opts: append([]kithttp.ServerOption{kithttp.ServerErrorEncoder(EncodeError)}, opts...)}
}

// Handle serves ep at pattern ("GET /v1/things/{id}").
func (e Endpoints) Handle(pattern string, ep endpoint.Endpoint, dec kithttp.DecodeRequestFunc, enc kithttp.EncodeResponseFunc) {
	e.mux.Handle(pattern, kithttp.NewServer(ep, WithParams(dec, e.params[pattern]), enc, e.opts...))
}
