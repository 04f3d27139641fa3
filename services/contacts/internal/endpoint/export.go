package endpoint

import (
	"context"
	"iter"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// ExportEndpoints stream contacts and companies as CSV.
type ExportEndpoints struct {
	ExportContacts, ExportCompanies endpoint.Endpoint
}

// MakeExports builds the export endpoints over s, observed by o.
func MakeExports(s service.Exports, o *observe.Observer) ExportEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return ExportEndpoints{
		ExportContacts: wrap("ExportContacts", func(ctx context.Context, req any) (any, error) {
			seq, fields, err := s.ExportContacts(ctx, req.(ListRequest).Query)
			return ContactStreamResponse{Contacts: seq, Fields: fields, Err: err}, nil
		}),
		ExportCompanies: wrap("ExportCompanies", func(ctx context.Context, req any) (any, error) {
			seq, fields, err := s.ExportCompanies(ctx, req.(ListCompaniesRequest).Query)
			return CompanyStreamResponse{Companies: seq, Fields: fields, Err: err}, nil
		}),
	}
}

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
