// Package endpoint adapts the contacts service to go-kit endpoints. Responses
// carry business errors (endpoint.Failer) so transports render them.
package endpoint

import (
	"context"
	"iter"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Endpoints collects the contacts endpoints.
type Endpoints struct {
	Create, Get, Update, Delete, List                           endpoint.Endpoint
	CreateCompany, GetCompany, UpdateCompany, DeleteCompany     endpoint.Endpoint
	ListCompanies, CompanyContacts                              endpoint.Endpoint
	LogActivity, GetActivity, DeleteActivity, ListActivities    endpoint.Endpoint
	Timeline, Erase, Export                                     endpoint.Endpoint
	ExportContacts, ExportCompanies                             endpoint.Endpoint
	DefineField, GetField, ListFields, ChangeField, DeleteField endpoint.Endpoint
	Duplicates, Merge, Unmerge                                  endpoint.Endpoint
}

// Make builds the endpoints over s, each observed by o under its method name.
func Make(s service.Service, o *observe.Observer) Endpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return Endpoints{
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
		CreateCompany: wrap("CreateCompany", func(ctx context.Context, req any) (any, error) {
			r := req.(CreateCompanyRequest)
			c, err := s.CreateCompany(ctx, r.Fields, r.Options)
			return CompanyResponse{Company: c, Err: err, Created: true}, nil
		}),
		GetCompany: wrap("GetCompany", func(ctx context.Context, req any) (any, error) {
			c, err := s.GetCompany(ctx, req.(GetRequest).ID)
			return CompanyResponse{Company: c, Err: err}, nil
		}),
		UpdateCompany: wrap("UpdateCompany", func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateCompanyRequest)
			c, err := s.UpdateCompany(ctx, r.ID, r.IfMatch, r.Patch, r.Options)
			return CompanyResponse{Company: c, Err: err}, nil
		}),
		DeleteCompany: wrap("DeleteCompany", func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteRequest)
			return DeleteResponse{Err: s.DeleteCompany(ctx, r.ID, r.IfMatch)}, nil
		}),
		ListCompanies: wrap("ListCompanies", func(ctx context.Context, req any) (any, error) {
			res, err := s.ListCompanies(ctx, req.(ListCompaniesRequest).Query)
			return ListCompaniesResponse{Page: res, Err: err}, nil
		}),
		CompanyContacts: wrap("CompanyContacts", func(ctx context.Context, req any) (any, error) {
			r := req.(CompanyContactsRequest)
			res, err := s.CompanyContacts(ctx, r.CompanyID, r.Query)
			return ListResponse{Page: res, Err: err}, nil
		}),
		LogActivity: wrap("LogActivity", func(ctx context.Context, req any) (any, error) {
			a, err := s.LogActivity(ctx, req.(LogActivityRequest).Fields)
			return ActivityResponse{Activity: a, Err: err, Created: true}, nil
		}),
		GetActivity: wrap("GetActivity", func(ctx context.Context, req any) (any, error) {
			a, err := s.GetActivity(ctx, req.(GetRequest).ID)
			return ActivityResponse{Activity: a, Err: err}, nil
		}),
		DeleteActivity: wrap("DeleteActivity", func(ctx context.Context, req any) (any, error) {
			return DeleteResponse{Err: s.DeleteActivity(ctx, req.(DeleteRequest).ID)}, nil
		}),
		ListActivities: wrap("ListActivities", func(ctx context.Context, req any) (any, error) {
			res, err := s.ListActivities(ctx, req.(ListActivitiesRequest).Query)
			return ListActivitiesResponse{Page: res, Err: err}, nil
		}),
		Erase: wrap("EraseContact", func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteRequest)
			c, err := s.EraseContact(ctx, r.ID, r.IfMatch)
			return ContactResponse{Contact: c, Err: err}, nil
		}),
		Export: wrap("ExportContact", func(ctx context.Context, req any) (any, error) {
			x, err := s.ExportContact(ctx, req.(GetRequest).ID)
			return ExportResponse{Export: x, Err: err}, nil
		}),
		ExportContacts: wrap("ExportContacts", func(ctx context.Context, req any) (any, error) {
			seq, fields, err := s.ExportContacts(ctx, req.(ListRequest).Query)
			return ContactStreamResponse{Contacts: seq, Fields: fields, Err: err}, nil
		}),
		ExportCompanies: wrap("ExportCompanies", func(ctx context.Context, req any) (any, error) {
			seq, fields, err := s.ExportCompanies(ctx, req.(ListCompaniesRequest).Query)
			return CompanyStreamResponse{Companies: seq, Fields: fields, Err: err}, nil
		}),
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
		Timeline: wrap("Timeline", func(ctx context.Context, req any) (any, error) {
			r := req.(TimelineRequest)
			res, err := s.Timeline(ctx, r.ContactID, r.Limit, r.After)
			return TimelineResponse{Page: res, Err: err}, nil
		}),
		Duplicates: wrap("DuplicatePairs", makeDuplicates(s)),
		Merge:      wrap("MergeContacts", makeMerge(s)),
		Unmerge:    wrap("UnmergeContacts", makeUnmerge(s)),
	}
}

type (
	LogActivityRequest    struct{ Fields domain.ActivityFields }
	ListActivitiesRequest struct{ Query service.ActivityQuery }
	TimelineRequest       struct {
		ContactID uuid.UUID
		Limit     int
		After     service.Cursor
	}
)

// ActivityResponse answers logging and reading an activity.
type ActivityResponse struct {
	Activity *domain.Activity
	Err      error
	Created  bool
}

func (r ActivityResponse) Failed() error { return r.Err }

// ListActivitiesResponse answers a list of activities.
type ListActivitiesResponse struct {
	Page service.Page[*domain.Activity]
	Err  error
}

func (r ListActivitiesResponse) Failed() error { return r.Err }

// TimelineResponse answers a page of a contact's timeline.
type TimelineResponse struct {
	Page service.Page[domain.TimelineEntry]
	Err  error
}

func (r TimelineResponse) Failed() error { return r.Err }

type (
	CreateRequest struct {
		Fields  domain.Fields
		Options service.WriteOptions
	}
	GetRequest    struct{ ID uuid.UUID }
	UpdateRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
		Patch   domain.Patch
		Options service.WriteOptions
	}
	// DeleteRequest deletes or erases a record under If-Match.
	DeleteRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
	}
	ListRequest          struct{ Query service.ListQuery }
	CreateCompanyRequest struct {
		Fields  domain.CompanyFields
		Options service.WriteOptions
	}
	UpdateCompanyRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
		Patch   domain.CompanyPatch
		Options service.WriteOptions
	}
	ListCompaniesRequest   struct{ Query service.CompanyQuery }
	CompanyContactsRequest struct {
		CompanyID uuid.UUID
		Query     service.ListQuery
	}
)

// ContactResponse answers create, get and update of a contact.
type ContactResponse struct {
	Contact *domain.Contact
	Err     error
	Created bool
}

func (r ContactResponse) Failed() error { return r.Err }

// CompanyResponse answers create, get and update of a company.
type CompanyResponse struct {
	Company *domain.Company
	Err     error
	Created bool
}

func (r CompanyResponse) Failed() error { return r.Err }

// DeleteResponse answers a delete.
type DeleteResponse struct{ Err error }

func (r DeleteResponse) Failed() error { return r.Err }

// ListResponse answers a list of contacts.
type ListResponse struct {
	Page service.Page[*domain.Contact]
	Err  error
}

func (r ListResponse) Failed() error { return r.Err }

// ListCompaniesResponse answers a list of companies.
type ListCompaniesResponse struct {
	Page service.Page[*domain.Company]
	Err  error
}

func (r ListCompaniesResponse) Failed() error { return r.Err }

// ExportResponse answers a data export.
type ExportResponse struct {
	Export service.DataExport
	Err    error
}

func (r ExportResponse) Failed() error { return r.Err }

// ContactStreamResponse answers an export of contacts: the rows are read as
// the transport writes them.
type ContactStreamResponse struct {
	Contacts iter.Seq2[*domain.Contact, error]
	Fields   []domain.FieldDef // custom fields: further columns
	Err      error
}

func (r ContactStreamResponse) Failed() error { return r.Err }

// CompanyStreamResponse answers an export of companies.
type CompanyStreamResponse struct {
	Companies iter.Seq2[*domain.Company, error]
	Fields    []domain.FieldDef
	Err       error
}

func (r CompanyStreamResponse) Failed() error { return r.Err }

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
