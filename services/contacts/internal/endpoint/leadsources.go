package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// LeadSourceEndpoints read and replace a tenant's lead sources.
type LeadSourceEndpoints struct {
	List, Set endpoint.Endpoint
}

// SetLeadSourcesRequest replaces the lead sources.
type SetLeadSourcesRequest struct{ Sources []domain.LeadSource }

// LeadSourcesResponse answers with the lead sources.
type LeadSourcesResponse struct {
	Sources []domain.LeadSource
	Err     error
}

func (r LeadSourcesResponse) Failed() error { return r.Err }

// MakeLeadSources builds the lead source endpoints over s, observed by o.
func MakeLeadSources(s service.LeadSourceList, o *observe.Observer) LeadSourceEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return LeadSourceEndpoints{
		List: wrap("ListLeadSources", func(ctx context.Context, _ any) (any, error) {
			src, err := s.LeadSources(ctx)
			return LeadSourcesResponse{Sources: src, Err: err}, nil
		}),
		Set: wrap("SetLeadSources", func(ctx context.Context, req any) (any, error) {
			src, err := s.SetLeadSources(ctx, req.(SetLeadSourcesRequest).Sources)
			return LeadSourcesResponse{Sources: src, Err: err}, nil
		}),
	}
}
