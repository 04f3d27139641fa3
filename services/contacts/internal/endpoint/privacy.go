package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// PrivacyEndpoints erase a person's data and export everything held about
// them.
type PrivacyEndpoints struct {
	Erase, Export endpoint.Endpoint
}

// MakePrivacy builds the privacy endpoints over s, observed by o.
func MakePrivacy(s service.Privacy, o *observe.Observer) PrivacyEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return PrivacyEndpoints{
		Erase: wrap("EraseContact", func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteRequest)
			c, err := s.EraseContact(ctx, r.ID, r.IfMatch)
			return ContactResponse{Contact: c, Err: err}, nil
		}),
		Export: wrap("ExportContact", func(ctx context.Context, req any) (any, error) {
			x, err := s.ExportContact(ctx, req.(GetRequest).ID)
			return ExportResponse{Export: x, Err: err}, nil
		}),
	}
}

// ExportResponse answers a data export.
type ExportResponse struct {
	Export service.DataExport
	Err    error
}

func (r ExportResponse) Failed() error { return r.Err }
