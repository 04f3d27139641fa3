package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// ActivityEndpoints log, read, delete and list activities.
type ActivityEndpoints struct {
	LogActivity, GetActivity, DeleteActivity, ListActivities endpoint.Endpoint
}

// MakeActivities builds the activity endpoints over s, observed by o.
func MakeActivities(s service.Activities, o *observe.Observer) ActivityEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return ActivityEndpoints{
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
	}
}

type (
	LogActivityRequest    struct{ Fields domain.ActivityFields }
	ListActivitiesRequest struct{ Query service.ActivityQuery }
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
