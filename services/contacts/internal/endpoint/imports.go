package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// ImportEndpoints are the CSV import endpoints. They are served apart from
// the rest: their bodies are files, larger than any JSON request.
type ImportEndpoints struct {
	Start, Get, Errors endpoint.Endpoint
}

// ImportRequest starts an import.
type ImportRequest struct{ Request service.ImportRequest }

// ImportResponse answers with a job.
type ImportResponse struct {
	Job     *domain.ImportJob
	Err     error
	Started bool
}

func (r ImportResponse) Failed() error { return r.Err }

// ImportErrorsResponse answers with a job's rejected rows: Each calls its
// argument with every one, in file order.
type ImportErrorsResponse struct {
	Job  *domain.ImportJob
	Each func(func(domain.ImportError) error) error
	Err  error
}

func (r ImportErrorsResponse) Failed() error { return r.Err }

// MakeImports builds the import endpoints over s, observed by o.
func MakeImports(s service.Imports, o *observe.Observer) ImportEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return ImportEndpoints{
		Start: wrap("StartImport", func(ctx context.Context, req any) (any, error) {
			j, err := s.StartImport(ctx, req.(ImportRequest).Request)
			return ImportResponse{Job: j, Err: err, Started: true}, nil
		}),
		Get: wrap("GetImport", func(ctx context.Context, req any) (any, error) {
			j, err := s.GetImport(ctx, req.(GetRequest).ID)
			return ImportResponse{Job: j, Err: err}, nil
		}),
		Errors: wrap("ImportErrors", func(ctx context.Context, req any) (any, error) {
			id := req.(GetRequest).ID
			j, err := s.GetImport(ctx, id)
			return ImportErrorsResponse{Job: j, Err: err, Each: func(fn func(domain.ImportError) error) error {
				return s.ImportErrors(ctx, id, fn)
			}}, nil
		}),
	}
}
