// Package service holds the tasks service's use cases: it knows who asks
// (the principal from the verified token), what they may do and see, and
// which events a change publishes; storage is behind TaskRepository.
package service

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// Query is a page of the caller's visible tasks matching its filters, in
// id (creation) order.
type Query struct {
	Limit int
	// After is the last task of the previous page (uuid.Nil: the first).
	After   uuid.UUID
	OwnerID string
	Status  string
	Kind    string
	// DealID and ContactID keep the tasks about a deal or a contact.
	DealID, ContactID uuid.UUID
	// DueFrom and DueTo bound the due time: from ≤ due_at < to.
	DueFrom, DueTo *time.Time
	// Overdue keeps the open tasks whose due time has passed; the service
	// turns it into OverdueAt, the instant "now" of the request.
	Overdue   bool
	OverdueAt *time.Time
}

// Page is one page of tasks; More tells whether another follows.
type Page struct {
	Tasks []*domain.Task
	More  bool
}

// TaskRepository stores tasks. Each write owns its transaction and stores
// the events its callback names in the outbox with the task.
type TaskRepository interface {
	// Create inserts t with the events evs names.
	Create(ctx context.Context, t *domain.Task, evs func(*domain.Task) ([]events.Event, error)) error
	Get(ctx context.Context, tenant, id uuid.UUID) (*domain.Task, error)
	// Update locks the task, lets fn change it and say what else it does
	// (the tasks it plans, the events), and stores them all.
	// fn reads the task's deal's next steps in the same transaction (w).
	Update(ctx context.Context, tenant, id uuid.UUID, fn func(w DealSteps, t *domain.Task) (Effects, error)) (*domain.Task, error)
	// Delete locks the task, lets fn approve it and name the events, and deletes it.
	Delete(ctx context.Context, tenant, id uuid.UUID, fn func(w DealSteps, t *domain.Task) ([]events.Event, error)) error
	// ListTasks reads the tasks v may see that match q, up to q.Limit.
	ListTasks(ctx context.Context, tenant uuid.UUID, v access.Viewer, q Query) ([]*domain.Task, error)
	// Agenda counts owner's open tasks v may see by when they are due.
	Agenda(ctx context.Context, tenant uuid.UUID, v access.Viewer, owner string, d AgendaDays) (Agenda, error)
	// HourLoad counts owner's open tasks v may see by the hour (in zone)
	// they are due in, from to to, leaving except out.
	HourLoad(ctx context.Context, tenant uuid.UUID, v access.Viewer, owner, zone string, from, to time.Time, except uuid.UUID) (map[time.Time]int, error)
	// ClaimNext claims for claimer, until until, owner's most urgent open
	// task due before horizon that pick accepts and nobody else holds.
	ClaimNext(ctx context.Context, tenant uuid.UUID, owner, claimer string, now, horizon, until time.Time, pick func(*domain.Task) bool) (*domain.Task, error)
}

// AgendaDays are the bounds of a day plan in someone's time zone: due
// times are compared with the instants, all-day dates with the dates.
type AgendaDays struct {
	Now                                  time.Time
	Tomorrow, DayAfter, WeekEnd, LaterAt time.Time
	TodayDate, TomorrowDate, WeekEndDate string
	LaterDate                            string
}

// Agenda is how many open tasks are overdue, due today, tomorrow, later
// this week (up to Sunday), later still, or at no time.
type Agenda struct {
	TimeZone                                           string
	Now                                                time.Time
	Overdue, Today, Tomorrow, ThisWeek, Later, Undated int64
}

// ConfigRepository stores the tenant's outcomes, calendars and rules of
// tasks, and reads what planning needs of them at once.
type ConfigRepository interface {
	OutcomeRepository
	CalendarRepository
	SettingsRepository
	Planning
}

// Service runs the use cases.
type Service struct {
	tasks     TaskRepository
	config    ConfigRepository
	directory Directory
	// peers asks the services that own what tasks name; nil asks nobody
	// (only what the projection holds may be named).
	peers Peers
	now   func() time.Time
	// localeOf is a tenant's locale (nil: English).
	localeOf func(uuid.UUID) string
}

// New returns the service over its repositories, the projection and the
// peers (nil: none).
func New(tasks TaskRepository, config ConfigRepository, directory Directory, peers Peers) *Service {
	return &Service{tasks: tasks, config: config, directory: directory, peers: peers,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// kindsFor are the tenant's own kinds when kind is not one of every
// tenant's (nil otherwise: no need to read them).
func (s *Service) kindsFor(ctx context.Context, tenant uuid.UUID, kind string) ([]string, error) {
	if kind == "" || slices.Contains(domain.Kinds, kind) {
		return nil, nil
	}
	settings, err := s.config.Settings(ctx, tenant)
	return settings.Kinds, err
}

// SetClock makes now the service's clock (tests move one by hand).
func (s *Service) SetClock(now func() time.Time) {
	s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) }
}

// TaskInput is a new task as the request gives it: its fields, a due time
// in the client's local time instead of due_at, and what reading the
// request found wrong.
type TaskInput struct {
	Fields   domain.TaskFields
	DueLocal string
	Invalid  []apperr.FieldError
}

// PatchInput is a change of a task as the request gives it.
type PatchInput struct {
	Patch    domain.TaskPatch
	DueLocal string
	Invalid  []apperr.FieldError
}

// twoDueTimes answers a request giving due_at and due_local.
var twoDueTimes = apperr.FieldError{Field: "due_local", Message: "give due_at or due_local (the client's local time), not both"}

// settle gives t the client's time zone, from what checking its links
// learnt (zs) or the projection, and the due time given in it (local,
// when not empty).
func (s *Service) settle(ctx context.Context, tenant uuid.UUID, t *domain.Task, zs zones, local string) error {
	zone, err := s.zoneOf(ctx, tenant, t.Fields().Links(), zs)
	if err != nil {
		return err
	}
	t.SetClientZone(zone)
	if local == "" {
		return nil
	}
	at, err := inZone(local, zone)
	if err != nil {
		return err
	}
	return t.Apply(domain.TaskPatch{DueAt: &domain.DueAt{At: at}})
}

var errReadOnly = apperr.New(apperr.KindForbidden, "read-only-role", "your role may read tasks but not change them")

// writer is a principal that may change records (auth.Writer).
func writer(ctx context.Context) (auth.Principal, error) { return auth.Writer(ctx, errReadOnly) }

// ListTasks is a page of the tasks the caller may see.
func (s *Service) ListTasks(ctx context.Context, q Query) (Page, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Page{}, err
	}
	q.Limit++
	if q.Overdue {
		now := s.now()
		q.OverdueAt = &now
	}
	tasks, err := s.tasks.ListTasks(ctx, p.TenantID, p.Viewer(), q)
	if err != nil {
		return Page{}, err
	}
	if more := len(tasks) == q.Limit; more {
		return Page{Tasks: tasks[:len(tasks)-1], More: true}, nil
	}
	return Page{Tasks: tasks}, nil
}

// Agenda counts owner's (by default the caller's) open tasks by when they
// are due, days reckoned in zone (an IANA time zone; UTC when empty).
func (s *Service) Agenda(ctx context.Context, owner, zone string) (Agenda, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Agenda{}, err
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		var v apperr.Invalid
		v.Add("time_zone", "must be an IANA time zone such as Europe/Moscow")
		return Agenda{}, v.Err()
	}
	if owner == "" {
		owner = p.UserID
	}
	d := agendaDays(s.now(), loc)
	a, err := s.tasks.Agenda(ctx, p.TenantID, p.Viewer(), owner, d)
	a.TimeZone, a.Now = zone, d.Now
	return a, err
}

// agendaDays are the bounds of now's day, the next, and the week (Monday
// to Sunday) in loc.
func agendaDays(now time.Time, loc *time.Location) AgendaDays {
	local := now.In(loc)
	y, m, dd := local.Date()
	day := func(n int) time.Time { return time.Date(y, m, dd+n, 0, 0, 0, 0, loc) }
	// Days to the next Monday: 7 on a Monday, 1 on a Sunday.
	toMonday := (8 - int(local.Weekday())) % 7
	if toMonday == 0 {
		toMonday = 7
	}
	d := AgendaDays{Now: now, Tomorrow: day(1), DayAfter: day(2), WeekEnd: day(toMonday)}
	d.LaterAt = d.WeekEnd
	if d.LaterAt.Before(d.DayAfter) {
		d.LaterAt = d.DayAfter // on a Sunday the week ends tomorrow
	}
	date := func(t time.Time) string { return t.Format(time.DateOnly) }
	d.TodayDate, d.TomorrowDate, d.WeekEndDate, d.LaterDate = date(day(0)), date(d.Tomorrow), date(d.WeekEnd), date(d.LaterAt)
	return d
}

// CreateTask plans a task; it is the caller's, in the caller's team,
// unless it names another owner (then in the team given, or none): a
// caller who gives a task to someone they do not see loses sight of it,
// as with deals.
func (s *Service) CreateTask(ctx context.Context, in TaskInput) (*domain.Task, error) {
	f := in.Fields
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if f.OwnerID == "" {
		if f.OwnerID, err = auth.DefaultOwner(p, "owner_id"); err != nil {
			return nil, err
		}
		if f.Team == "" {
			f.Team = p.Team
		}
	}
	invalid := in.Invalid
	if in.DueLocal != "" && f.DueAt != nil {
		invalid = append(invalid, twoDueTimes)
	}
	kinds, err := s.kindsFor(ctx, p.TenantID, f.Kind)
	if err != nil {
		return nil, err
	}
	t, err := domain.NewTask(p.TenantID, f, s.now(), kinds...)
	if err = apperr.Before(invalid, err); err != nil {
		return nil, err
	}
	zs, err := s.checkLinks(ctx, p, f.Links())
	if err != nil {
		return nil, err
	}
	if err := s.settle(ctx, p.TenantID, t, zs, in.DueLocal); err != nil {
		return nil, err
	}
	if t.DueAt() != nil {
		pc, err := s.config.Planning(ctx, p.TenantID, "", t.OwnerID())
		if err != nil {
			return nil, err
		}
		t.PlanReminder(pc.Settings.ReminderLead, s.now())
		if err := s.checkCapacity(ctx, p.TenantID, t, pc.calendarOf(t.OwnerID())); err != nil {
			return nil, err
		}
	}
	return t, s.tasks.Create(ctx, t, func(t *domain.Task) ([]events.Event, error) {
		return taskEvents(TypeTaskCreated, t, p.UserID)
	})
}

// GetTask reads a task the caller may see.
func (s *Service) GetTask(ctx context.Context, id uuid.UUID) (*domain.Task, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.tasks.Get(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if !t.VisibleTo(p.Viewer()) {
		return nil, domain.ErrTaskNotFound
	}
	return t, nil
}

// change locks a task the caller may see and write, checks If-Match, lets
// fn change it, keeps its deal's next step (keepNextStep), and stores the
// next version with the event of typ, the tasks fn planned and their
// events. It returns the task and the discipline's warning ("" none).
func (s *Service) change(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, typ string, changed []string,
	fn func(t *domain.Task, p auth.Principal, now time.Time) (Effects, error)) (*domain.Task, string, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var warning string
	t, err := s.tasks.Update(ctx, p.TenantID, id, func(w DealSteps, t *domain.Task) (Effects, error) {
		if !t.VisibleTo(p.Viewer()) {
			return Effects{}, domain.ErrTaskNotFound
		}
		if !p.Writes() {
			return Effects{}, errReadOnly
		}
		if err := ifMatch.Check(t.Version()); err != nil {
			return Effects{}, err
		}
		deal := t.Fields().DealID
		now := s.now()
		fx, err := fn(t, p, now)
		if err != nil {
			return Effects{}, err
		}
		if !fx.EndsDeal {
			if warning, err = s.keepNextStep(ctx, w, p.TenantID, deal, t, false, fx.Plan); err != nil {
				return Effects{}, err
			}
		}
		t.Advance(now)
		evs, err := taskEvents(typ, t, p.UserID, changed...)
		fx.Events = append(evs, fx.Events...)
		return fx, err
	})
	return t, warning, err
}

// only is a change of the task alone.
func only(fn func(t *domain.Task, p auth.Principal, now time.Time) error) func(*domain.Task, auth.Principal, time.Time) (Effects, error) {
	return func(t *domain.Task, p auth.Principal, now time.Time) (Effects, error) {
		return Effects{}, fn(t, p, now)
	}
}

// UpdateTask changes an open task's fields.
func (s *Service) UpdateTask(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, in PatchInput) (*domain.Task, error) {
	patch, invalid := in.Patch, in.Invalid
	changed := patch.Changed()
	if in.DueLocal != "" {
		if patch.DueAt != nil {
			invalid = append(invalid, twoDueTimes)
		}
		changed = append(changed, "due_at")
	}
	relinks := patch.DealID != nil || patch.ContactID != nil || patch.CompanyID != nil
	// The records named anew are checked before the task is locked (their
	// services may be asked); a refusal is told only to a caller who may
	// change the task.
	var zs zones
	var refused error
	p, err := auth.Caller(ctx)
	if err == nil && relinks {
		zs, refused = s.checkLinks(ctx, p, patch.Links())
	}
	var kinds []string
	if patch.Kind != nil && err == nil {
		if kinds, err = s.kindsFor(ctx, p.TenantID, *patch.Kind); err != nil {
			return nil, err
		}
	}
	// A new due time has a new reminder, lead before it.
	redue := patch.DueAt != nil || patch.DueDate != nil || in.DueLocal != ""
	var pc PlanContext
	if err == nil && redue {
		owners := []string{p.UserID}
		if patch.OwnerID != nil {
			owners = append(owners, *patch.OwnerID)
		}
		if pc, err = s.config.Planning(ctx, p.TenantID, "", owners...); err != nil {
			return nil, err
		}
	}
	t, _, err := s.change(ctx, id, ifMatch, TypeTaskUpdated, changed, only(func(t *domain.Task, p auth.Principal, now time.Time) error {
		if err := apperr.Before(invalid, t.Apply(patch, kinds...)); err != nil {
			return err
		}
		if refused != nil {
			return refused
		}
		if relinks || in.DueLocal != "" {
			if err := s.settle(ctx, p.TenantID, t, zs, in.DueLocal); err != nil {
				return err
			}
		}
		if redue {
			t.PlanReminder(pc.Settings.ReminderLead, now)
			return s.checkCapacity(ctx, p.TenantID, t, pc.calendarOf(t.OwnerID()))
		}
		return nil
	}))
	return t, err
}

// DeleteTask deletes a task.
func (s *Service) DeleteTask(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	return s.tasks.Delete(ctx, p.TenantID, id, func(w DealSteps, t *domain.Task) ([]events.Event, error) {
		if !t.VisibleTo(p.Viewer()) {
			return nil, domain.ErrTaskNotFound
		}
		if !p.Writes() {
			return nil, errReadOnly
		}
		if err := ifMatch.Check(t.Version()); err != nil {
			return nil, err
		}
		if _, err := s.keepNextStep(ctx, w, p.TenantID, t.Fields().DealID, t, true, nil); err != nil {
			return nil, err
		}
		return taskEvents(TypeTaskDeleted, t, p.UserID)
	})
}
