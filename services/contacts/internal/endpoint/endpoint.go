// Package endpoint adapts the contacts service to go-kit endpoints. Responses
// carry business errors (endpoint.Failer) so transports render them.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Endpoints collects the contacts endpoints.
type Endpoints struct {
	Create endpoint.Endpoint
	Get    endpoint.Endpoint
	Update endpoint.Endpoint
	Delete endpoint.Endpoint
	List   endpoint.Endpoint
}

// Make builds the endpoints over s.
func Make(s service.Service) Endpoints {
	return Endpoints{
		Create: func(ctx context.Context, req any) (any, error) {
			c, err := s.CreateContact(ctx, req.(CreateRequest).Fields)
			return ContactResponse{Contact: c, Err: err, Created: true}, nil
		},
		Get: func(ctx context.Context, req any) (any, error) {
			c, err := s.GetContact(ctx, req.(GetRequest).ID)
			return ContactResponse{Contact: c, Err: err}, nil
		},
		Update: func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateRequest)
			c, err := s.UpdateContact(ctx, r.ID, r.IfMatch, r.Patch)
			return ContactResponse{Contact: c, Err: err}, nil
		},
		Delete: func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteRequest)
			return DeleteResponse{Err: s.DeleteContact(ctx, r.ID, r.IfMatch)}, nil
		},
		List: func(ctx context.Context, req any) (any, error) {
			res, err := s.ListContacts(ctx, req.(ListRequest).Query)
			return ListResponse{Result: res, Err: err}, nil
		},
	}
}

type (
	CreateRequest struct{ Fields domain.Fields }
	GetRequest    struct{ ID uuid.UUID }
	UpdateRequest struct {
		ID      uuid.UUID
		IfMatch int64
		Patch   domain.Patch
	}
	DeleteRequest struct {
		ID      uuid.UUID
		IfMatch int64
	}
	ListRequest struct{ Query service.ListQuery }
)

// ContactResponse answers create, get and update.
type ContactResponse struct {
	Contact *domain.Contact
	Err     error
	Created bool
}

func (r ContactResponse) Failed() error { return r.Err }

// DeleteResponse answers delete.
type DeleteResponse struct{ Err error }

func (r DeleteResponse) Failed() error { return r.Err }

// ListResponse answers list.
type ListResponse struct {
	Result service.ListResult
	Err    error
}

func (r ListResponse) Failed() error { return r.Err }
