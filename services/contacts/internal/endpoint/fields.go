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

// FieldEndpoints define, read, list, change and delete custom fields.
type FieldEndpoints struct {
	DefineField, GetField, ListFields, ChangeField, DeleteField endpoint.Endpoint
}

// MakeFields builds the custom field endpoints over s, observed by o.
func MakeFields(s service.Fields, o *observe.Observer) FieldEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return FieldEndpoints{
		DefineField: wrap("DefineField", func(ctx context.Context, req any) (any, error) {
			r := req.(DefineFieldRequest)
			f, err := s.DefineField(ctx, r.Def, r.Position)
			return FieldResponse{Field: f, Err: err, Created: true}, nil
		}),
		GetField: wrap("GetField", func(ctx context.Context, req any) (any, error) {
			f, err := s.GetField(ctx, req.(GetRequest).ID)
			return FieldResponse{Field: f, Err: err}, nil
		}),
		ListFields: wrap("ListFields", func(ctx context.Context, req any) (any, error) {
			fs, err := s.ListFields(ctx, req.(ListFieldsRequest).Entity)
			return ListFieldsResponse{Fields: fs, Err: err}, nil
		}),
		ChangeField: wrap("ChangeField", func(ctx context.Context, req any) (any, error) {
			r := req.(ChangeFieldRequest)
			f, err := s.ChangeField(ctx, r.ID, r.IfMatch, r.Patch)
			return FieldResponse{Field: f, Err: err}, nil
		}),
		DeleteField: wrap("DeleteField", func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteRequest)
			return DeleteResponse{Err: s.DeleteField(ctx, r.ID, r.IfMatch)}, nil
		}),
	}
}

type (
	// DefineFieldRequest defines Def at Position, or after its entity's
	// other fields when Position is nil.
	DefineFieldRequest struct {
		Def      domain.FieldDef
		Position *int
	}
	ListFieldsRequest  struct{ Entity string }
	ChangeFieldRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
		Patch   domain.FieldPatch
	}
)

// FieldResponse answers defining, reading and changing a custom field.
type FieldResponse struct {
	Field   *domain.Field
	Err     error
	Created bool
}

func (r FieldResponse) Failed() error { return r.Err }

// ListFieldsResponse answers the list of custom fields.
type ListFieldsResponse struct {
	Fields []*domain.Field
	Err    error
}

func (r ListFieldsResponse) Failed() error { return r.Err }
