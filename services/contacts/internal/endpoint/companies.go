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

// CompanyEndpoints create, read, change, delete and list companies, and
// list a company's contacts.
type CompanyEndpoints struct {
	CreateCompany, GetCompany, UpdateCompany, DeleteCompany endpoint.Endpoint
	ListCompanies, CompanyContacts                          endpoint.Endpoint
}

// MakeCompanies builds the company endpoints over s, observed by o.
func MakeCompanies(s service.Companies, o *observe.Observer) CompanyEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return CompanyEndpoints{
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
	}
}

type (
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

// CompanyResponse answers create, get and update of a company.
type CompanyResponse struct {
	Company *domain.Company
	Err     error
	Created bool
}

func (r CompanyResponse) Failed() error { return r.Err }

// ListCompaniesResponse answers a list of companies.
type ListCompaniesResponse struct {
	Page service.Page[*domain.Company]
	Err  error
}

func (r ListCompaniesResponse) Failed() error { return r.Err }
