package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// TimelineEndpoints page through a contact's timeline.
type TimelineEndpoints struct {
	Timeline endpoint.Endpoint
}

// MakeTimeline builds the timeline endpoint over s, observed by o.
func MakeTimeline(s service.Timelines, o *observe.Observer) TimelineEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return TimelineEndpoints{
		Timeline: wrap("Timeline", func(ctx context.Context, req any) (any, error) {
			r := req.(TimelineRequest)
			res, err := s.Timeline(ctx, r.ContactID, r.Limit, r.After)
			return TimelineResponse{Page: res, Err: err}, nil
		}),
	}
}

type TimelineRequest struct {
	ContactID uuid.UUID
	Limit     int
	After     service.Cursor
}

// TimelineResponse answers a page of a contact's timeline.
type TimelineResponse struct {
	Page service.Page[domain.TimelineEntry]
	Err  error
}

func (r TimelineResponse) Failed() error { return r.Err }
