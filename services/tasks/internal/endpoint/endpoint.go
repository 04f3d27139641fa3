// Package endpoint adapts the tasks service to go-kit endpoints. Responses
// carry business errors (endpoint.Failer) so transports render them.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// Endpoints collects the tasks endpoints.
type Endpoints struct {
	ListTasks endpoint.Endpoint
}

// ListTasksRequest asks for a page of tasks.
type ListTasksRequest struct{ Query service.Query }

// ListTasksResponse is a page of tasks or the error.
type ListTasksResponse struct {
	Page service.Page
	Err  error
}

// Failed implements endpoint.Failer.
func (r ListTasksResponse) Failed() error { return r.Err }

// Make builds the endpoints over s, each observed by o under its method name.
func Make(s *service.Service, o *observe.Observer) Endpoints {
	return Endpoints{
		ListTasks: o.Middleware("ListTasks")(func(ctx context.Context, req any) (any, error) {
			page, err := s.ListTasks(ctx, req.(ListTasksRequest).Query)
			return ListTasksResponse{Page: page, Err: err}, nil
		}),
	}
}
