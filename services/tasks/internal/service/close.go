package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// Planning reads, in one round trip, what closing a task needs to plan
// what follows it.
type Planning interface {
	// Planning reads the outcome of key (nil when the tenant has none by
	// that key), the tenant's settings, and the calendars of users (by
	// user; "" the default, always read).
	Planning(ctx context.Context, tenant uuid.UUID, key string, users ...string) (PlanContext, error)
}

// PlanContext is what closing a task with an outcome needs.
type PlanContext struct {
	Outcome  *domain.Outcome
	Settings domain.Settings
	// Calendars are working calendars by user; "" is the tenant's default.
	Calendars map[string]*domain.Calendar
}

// calendarOf is user's working calendar: their own, else the default.
func (pc PlanContext) calendarOf(user string) *domain.Calendar {
	if c, ok := pc.Calendars[user]; ok {
		return c
	}
	return pc.Calendars[""]
}

// CloseInput is how a task is completed or cancelled: the outcome's key
// (none for a plain completion), the result in words, when the client
// asked to be called back (a callback outcome), and the next step planned
// in the same request.
type CloseInput struct {
	Outcome    string
	Result     string
	CallbackAt *time.Time
	Next       *TaskInput
	Invalid    []apperr.FieldError
}

// Closed is a task closed, and what its outcome planned: the next attempt
// or the next step (nil for none), or the end of its attempts.
type Closed struct {
	Task              *domain.Task
	Next              *domain.Task
	AttemptsExhausted bool
	// Warnings are what the tenant's discipline (warn) says of the closing.
	Warnings []string
}

// Effects are what a change of a task does besides storing it: the tasks
// it plans and the events it publishes after the task's own.
type Effects struct {
	Plan   []*domain.Task
	Events []events.Event
	// EndsDeal says the change ends the task's deal (its attempts are
	// exhausted and the tenant loses such deals): no next step is due.
	EndsDeal bool
}

// errNoOutcome answers an outcome the tenant does not have (or archived).
func errNoOutcome(key string) error {
	return apperr.Field("outcome", "no such outcome: "+key+" (GET /v1/outcomes lists them)")
}

// CompleteTask closes an open task as done. An outcome may plan what
// follows: a retry outcome the next attempt along its ladder (or, past its
// last step, the end of the attempts), a callback outcome the next attempt
// when the client asked; every automatic time lands inside the owner's
// working hours and the client's call window. A next step given in the
// request is planned with it, in the same transaction.
func (s *Service) CompleteTask(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, in CloseInput) (Closed, error) {
	return s.close(ctx, id, ifMatch, in, TypeTaskCompleted)
}

// CancelTask closes an open task that will not be done; a next step given
// in the request is planned with it.
func (s *Service) CancelTask(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, in CloseInput) (Closed, error) {
	return s.close(ctx, id, ifMatch, in, TypeTaskCancelled)
}

func (s *Service) close(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, in CloseInput, typ string) (Closed, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Closed{}, err
	}
	pc, err := s.config.Planning(ctx, p.TenantID, in.Outcome, p.UserID)
	if err != nil {
		return Closed{}, err
	}
	// The next step's records are checked before the task is locked; a
	// refusal is told only to a caller who may change the task.
	var next *domain.Task
	var nextZones zones
	var refused error
	if in.Next != nil {
		next, nextZones, refused = s.prepareNext(ctx, p, *in.Next, pc.Settings.Kinds)
	}
	var out Closed
	var warning string
	out.Task, warning, err = s.change(ctx, id, ifMatch, typ, nil, func(t *domain.Task, p auth.Principal, now time.Time) (Effects, error) {
		if err := apperr.Before(in.Invalid, nil); err != nil {
			return Effects{}, err
		}
		if typ == TypeTaskCancelled {
			if in.Outcome != "" || in.CallbackAt != nil {
				return Effects{}, apperr.Field("outcome", "a task cancelled has no outcome; complete it with one instead")
			}
			if err := t.Cancel(in.Result, p.UserID, now); err != nil {
				return Effects{}, err
			}
		} else if err := s.completeWith(t, p, pc, in, now, &out); err != nil {
			return Effects{}, err
		}
		var fx Effects
		if out.Next != nil {
			out.Next.PlanReminder(pc.Settings.ReminderLead, now)
			evs, err := taskEvents(TypeTaskRescheduled, out.Next, p.UserID)
			if err != nil {
				return Effects{}, err
			}
			fx.Plan, fx.Events = append(fx.Plan, out.Next), append(fx.Events, evs...)
		}
		if out.AttemptsExhausted {
			e, err := exhaustedEvent(t, p.UserID, pc.Settings.ExhaustedLosesDeal)
			if err != nil {
				return Effects{}, err
			}
			fx.Events = append(fx.Events, e)
			fx.EndsDeal = pc.Settings.ExhaustedLosesDeal
		}
		if in.Next != nil {
			if refused != nil {
				return Effects{}, refused
			}
			n, err := s.followNext(ctx, t, next, nextZones, *in.Next, now)
			if err != nil {
				return Effects{}, err
			}
			n.PlanReminder(pc.Settings.ReminderLead, now)
			evs, err := taskEvents(TypeTaskCreated, n, p.UserID)
			if err != nil {
				return Effects{}, err
			}
			fx.Plan, fx.Events = append(fx.Plan, n), append(fx.Events, evs...)
			if out.Next == nil {
				out.Next = n
			}
		}
		return fx, nil
	})
	if warning != "" {
		out.Warnings = []string{warning}
	}
	return out, err
}

// errTwoNexts answers a next step given with an outcome that plans the
// next attempt itself.
var errTwoNexts = apperr.Field("next", "this outcome plans the next attempt itself; give next with an outcome that completes the step")

// completeWith completes t with in's outcome and plans what it says.
func (s *Service) completeWith(t *domain.Task, p auth.Principal, pc PlanContext, in CloseInput, now time.Time, out *Closed) error {
	o := pc.Outcome
	if in.Outcome != "" && (o == nil || o.Archived()) {
		return errNoOutcome(in.Outcome)
	}
	action := domain.ActionComplete
	if o != nil {
		action = o.Action()
	}
	switch {
	case action == domain.ActionCallback && in.CallbackAt == nil:
		return apperr.Field("callback_at", "this outcome plans a call back: say when, as a time such as 2027-01-15T15:00:00+03:00")
	case action == domain.ActionCallback && !in.CallbackAt.After(now):
		return apperr.Field("callback_at", "must be in the future")
	case action != domain.ActionCallback && in.CallbackAt != nil:
		return apperr.Field("callback_at", "only an outcome that plans a call back takes callback_at")
	}
	if err := t.Complete(in.Outcome, in.Result, p.UserID, now); err != nil {
		return err
	}
	switch action {
	case domain.ActionRetry:
		delay, ok := o.Ladder().After(t.Chain().Attempt)
		if !ok {
			out.AttemptsExhausted = true
			return nil
		}
		if in.Next != nil {
			return errTwoNexts
		}
		at, err := s.automatic(t, pc, now.Add(delay))
		if err != nil {
			return err
		}
		out.Next = t.FollowUp(at, now)
	case domain.ActionCallback:
		if in.Next != nil {
			return errTwoNexts
		}
		out.Next = t.FollowUp(*in.CallbackAt, now)
	}
	return nil
}

// automatic puts an automatic time of t's owner inside their working hours
// and the client's call window: "+3 h" at 19:30 becomes the next working
// morning.
func (s *Service) automatic(t *domain.Task, pc PlanContext, at time.Time) (time.Time, error) {
	cals := []*domain.Calendar{}
	if c := pc.calendarOf(t.OwnerID()); c != nil {
		cals = append(cals, c)
	}
	if zone := t.ClientZone(); zone != "" {
		if w, err := domain.CallWindow(zone, pc.Settings.CallWindow); err == nil {
			cals = append(cals, w)
		}
	}
	return domain.Plan(at, cals...)
}

// prepareNext validates a next step given with a closing and checks what
// it names, before the task is locked.
func (s *Service) prepareNext(ctx context.Context, p auth.Principal, in TaskInput, kinds []string) (*domain.Task, zones, error) {
	f := in.Fields
	if f.OwnerID == "" {
		f.OwnerID = "-" // the closed task's owner, set once it is read
	}
	t, err := domain.NewTask(p.TenantID, f, s.now(), kinds...)
	if err = apperr.Before(in.Invalid, err); err != nil {
		return nil, nil, nestUnder("next", err)
	}
	zs, err := s.checkLinks(ctx, p, f.Links())
	return t, zs, nestUnder("next", err)
}

// followNext makes the next step after closed: by default its owner's and
// about what closed was about, due in the future.
func (s *Service) followNext(ctx context.Context, closed, prepared *domain.Task, zs zones, in TaskInput, now time.Time) (*domain.Task, error) {
	f := prepared.Fields()
	if in.Fields.OwnerID == "" {
		f.OwnerID, f.Team = closed.OwnerID(), closed.Team()
	}
	if f.Links() == (domain.Links{}) {
		// The same client as the step before, at the same clock.
		c := closed.Fields()
		f.DealID, f.ContactID, f.CompanyID = c.DealID, c.ContactID, c.CompanyID
		zs = zones{c.ContactID: closed.ClientZone()}
		if c.ContactID == uuid.Nil {
			zs = zones{c.DealID: closed.ClientZone()}
		}
	}
	n, err := domain.NewTask(closed.TenantID(), f, now, f.Kind) // prepareNext checked its kind
	if err != nil {
		return nil, nestUnder("next", err)
	}
	n.Follow(closed)
	if err := s.settle(ctx, closed.TenantID(), n, zs, in.DueLocal); err != nil {
		return nil, nestUnder("next", err)
	}
	if at := n.DueAt(); at != nil && at.Before(now) {
		return nil, apperr.Field("next/due_at", "must not be in the past")
	}
	return n, nil
}

// nestUnder puts a validation problem's fields under prefix/.
func nestUnder(prefix string, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = make([]apperr.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		out.Fields[i] = apperr.FieldError{Field: prefix + "/" + f.Field, Message: f.Message}
	}
	return &out
}
