package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// ContactEndpoints create, read, change, delete and list contacts.
type ContactEndpoints struct {
	Create, Get, Update, Delete, List endpoint.Endpoint
}

// MakeContacts builds the contact endpoints over s, observed by o.
func MakeContacts(s service.Contacts, o *observe.Observer) ContactEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return ContactEndpoints{
		Create: wrap("CreateContact", func(ctx context.Context, req any) (any, error) {
			r := req.(CreateRequest)
			c, err := s.CreateContact(ctx, r.Fields, r.Options)
			return ContactResponse{Contact: c, Err: err, Created: true}, nil
		}),
		Get: wrap("GetContact", func(ctx context.Context, req any) (any, error) {
			c, err := s.GetContact(ctx, req.(GetRequest).ID)
			return ContactResponse{Contact: c, Err: err}, nil
		}),
		Update: wrap("UpdateContact", func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateRequest)
			c, err := s.UpdateContact(ctx, r.ID, r.IfMatch, r.Patch, r.Options)
			return ContactResponse{Contact: c, Err: err}, nil
		}),
		Delete: wrap("DeleteContact", func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteRequest)
			return DeleteResponse{Err: s.DeleteContact(ctx, r.ID, r.IfMatch)}, nil
		}),
		List: wrap("ListContacts", func(ctx context.Context, req any) (any, error) {
			res, err := s.ListContacts(ctx, req.(ListRequest).Query)
			return ListResponse{Page: res, Err: err}, nil
		}),
	}
}

type (
	CreateRequest struct {
		Fields  domain.Fields
		Options service.WriteOptions
	}
	UpdateRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
		Patch   domain.Patch
		Options service.WriteOptions
	}
	ListRequest struct{ Query service.ListQuery }
)

// ContactResponse answers create, get and update of a contact.
type ContactResponse struct {
	Contact *domain.Contact
	Err     error
	Created bool
}

func (r ContactResponse) Failed() error { return r.Err }

// ListResponse answers a list of contacts.
type ListResponse struct {
	Page service.Page[*domain.Contact]
	Err  error
}

func (r ListResponse) Failed() error { return r.Err }
