// Package endpoint adapts the tasks service to go-kit endpoints. Every
// endpoint answers an httpkit.Response of its use case's result, which
// carries a business error (endpoint.Failer) for the transport to render.
package endpoint

import (
	"context"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// Endpoints collects the tasks endpoints.
type Endpoints struct {
	ListTasks, CreateTask, GetTask, UpdateTask, CompleteTask, CancelTask, DeleteTask, Agenda endpoint.Endpoint
	ListOutcomes, CreateOutcome, GetOutcome, UpdateOutcome                                   endpoint.Endpoint
	ListCalendars, CreateCalendar, GetCalendar, ReplaceCalendar, DeleteCalendar              endpoint.Endpoint
	GetSettings, UpdateSettings                                                              endpoint.Endpoint
	Next, Load, Slots                                                                        endpoint.Endpoint
}

// Requests, decoded by the transport. Invalid are what reading the request
// found wrong (an unreadable time), reported with the task's own checks.
type (
	ListTasksRequest  struct{ Query service.Query }
	CreateTaskRequest struct{ In service.TaskInput }
	UpdateTaskRequest struct {
		httpkit.Ref
		In service.PatchInput
	}
	// AgendaRequest asks for owner's day plan, days reckoned in TimeZone.
	AgendaRequest struct{ OwnerID, TimeZone string }
	// CloseTaskRequest completes (with its outcome) or cancels a task.
	CloseTaskRequest struct {
		httpkit.Ref
		In service.CloseInput
	}
	// ListOutcomesRequest asks for the outcomes, archived ones too when Archived.
	ListOutcomesRequest  struct{ Archived bool }
	CreateOutcomeRequest struct {
		Spec    domain.OutcomeSpec
		Invalid []apperr.FieldError
	}
	UpdateOutcomeRequest struct {
		httpkit.Ref
		Patch   domain.OutcomePatch
		Invalid []apperr.FieldError
	}
	CreateCalendarRequest struct {
		UserID string
		Doc    domain.CalendarDoc
	}
	ReplaceCalendarRequest struct {
		httpkit.Ref
		Doc domain.CalendarDoc
	}
	UpdateSettingsRequest struct {
		IfMatch access.IfMatch
		Patch   domain.SettingsPatch
	}
	// NextRequest asks for the caller's next task on Device.
	NextRequest struct{ Device string }
	// LoadRequest asks for User's tasks per hour from From to To; Slots
	// for Count free hours from From.
	LoadRequest struct {
		User     string
		From, To time.Time
		Count    int
	}
	// Served is the next task (nil: none) and how long it is the device's.
	Served struct {
		Task  *domain.Task
		Until time.Time
	}
)

// respond is a use case's result as an endpoint's response.
func respond[T any](v T, err error) (any, error) { return httpkit.Response[T]{Value: v, Err: err}, nil }

// Make builds the endpoints over s, each observed by o under its method name.
func Make(s *service.Service, o *observe.Observer) Endpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	task := func(t *domain.Task, err error) (any, error) {
		return httpkit.Response[*domain.Task]{Value: t, Err: err}, nil
	}
	return Endpoints{
		ListTasks: wrap("ListTasks", func(ctx context.Context, req any) (any, error) {
			page, err := s.ListTasks(ctx, req.(ListTasksRequest).Query)
			return httpkit.Response[service.Page]{Value: page, Err: err}, nil
		}),
		CreateTask: wrap("CreateTask", func(ctx context.Context, req any) (any, error) {
			r := req.(CreateTaskRequest)
			return task(s.CreateTask(ctx, r.In))
		}),
		GetTask: wrap("GetTask", func(ctx context.Context, req any) (any, error) {
			return task(s.GetTask(ctx, req.(httpkit.Ref).ID))
		}),
		UpdateTask: wrap("UpdateTask", func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateTaskRequest)
			return task(s.UpdateTask(ctx, r.ID, r.IfMatch, r.In))
		}),
		CompleteTask: wrap("CompleteTask", func(ctx context.Context, req any) (any, error) {
			r := req.(CloseTaskRequest)
			return respond(s.CompleteTask(ctx, r.ID, r.IfMatch, r.In))
		}),
		CancelTask: wrap("CancelTask", func(ctx context.Context, req any) (any, error) {
			r := req.(CloseTaskRequest)
			return respond(s.CancelTask(ctx, r.ID, r.IfMatch, r.In))
		}),
		ListOutcomes: wrap("ListOutcomes", func(ctx context.Context, req any) (any, error) {
			return respond(s.Outcomes(ctx, req.(ListOutcomesRequest).Archived))
		}),
		CreateOutcome: wrap("CreateOutcome", func(ctx context.Context, req any) (any, error) {
			r := req.(CreateOutcomeRequest)
			return respond(s.AddOutcome(ctx, r.Spec, r.Invalid))
		}),
		GetOutcome: wrap("GetOutcome", func(ctx context.Context, req any) (any, error) {
			return respond(s.GetOutcome(ctx, req.(httpkit.Ref).ID))
		}),
		UpdateOutcome: wrap("UpdateOutcome", func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateOutcomeRequest)
			return respond(s.ChangeOutcome(ctx, r.ID, r.IfMatch, r.Patch, r.Invalid))
		}),
		ListCalendars: wrap("ListCalendars", func(ctx context.Context, _ any) (any, error) {
			return respond(s.Calendars(ctx))
		}),
		CreateCalendar: wrap("CreateCalendar", func(ctx context.Context, req any) (any, error) {
			r := req.(CreateCalendarRequest)
			return respond(s.AddCalendar(ctx, r.UserID, r.Doc))
		}),
		GetCalendar: wrap("GetCalendar", func(ctx context.Context, req any) (any, error) {
			return respond(s.GetCalendar(ctx, req.(httpkit.Ref).ID))
		}),
		ReplaceCalendar: wrap("ReplaceCalendar", func(ctx context.Context, req any) (any, error) {
			r := req.(ReplaceCalendarRequest)
			return respond(s.ReplaceCalendar(ctx, r.ID, r.IfMatch, r.Doc))
		}),
		DeleteCalendar: wrap("DeleteCalendar", func(ctx context.Context, req any) (any, error) {
			r := req.(httpkit.Ref)
			return httpkit.Done{Err: s.DeleteCalendar(ctx, r.ID, r.IfMatch)}, nil
		}),
		Next: wrap("Next", func(ctx context.Context, req any) (any, error) {
			t, until, err := s.Next(ctx, req.(NextRequest).Device)
			return respond(Served{Task: t, Until: until}, err)
		}),
		Load: wrap("Load", func(ctx context.Context, req any) (any, error) {
			r := req.(LoadRequest)
			return respond(s.Load(ctx, r.User, r.From, r.To))
		}),
		Slots: wrap("Slots", func(ctx context.Context, req any) (any, error) {
			r := req.(LoadRequest)
			return respond(s.Slots(ctx, r.User, r.From, r.Count))
		}),
		GetSettings: wrap("GetSettings", func(ctx context.Context, _ any) (any, error) {
			return respond(s.Settings(ctx))
		}),
		UpdateSettings: wrap("UpdateSettings", func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateSettingsRequest)
			return respond(s.ChangeSettings(ctx, r.IfMatch, r.Patch))
		}),
		Agenda: wrap("Agenda", func(ctx context.Context, req any) (any, error) {
			r := req.(AgendaRequest)
			a, err := s.Agenda(ctx, r.OwnerID, r.TimeZone)
			return httpkit.Response[service.Agenda]{Value: a, Err: err}, nil
		}),
		DeleteTask: wrap("DeleteTask", func(ctx context.Context, req any) (any, error) {
			r := req.(httpkit.Ref)
			return httpkit.Done{Err: s.DeleteTask(ctx, r.ID, r.IfMatch)}, nil
		}),
	}
}
