package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// OutcomeRepository stores a tenant's outcomes; each write owns its
// transaction.
type OutcomeRepository interface {
	// Outcomes are the tenant's outcomes in their order.
	Outcomes(ctx context.Context, tenant uuid.UUID) ([]*domain.Outcome, error)
	Outcome(ctx context.Context, tenant, id uuid.UUID) (*domain.Outcome, error)
	// AddOutcome stores the outcome fn makes, given how many there are.
	AddOutcome(ctx context.Context, tenant uuid.UUID, fn func(count int) (*domain.Outcome, error)) (*domain.Outcome, error)
	// UpdateOutcome locks an outcome, lets fn change it and stores it.
	UpdateOutcome(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.Outcome) error) (*domain.Outcome, error)
}

// CalendarRepository stores the tenant's default calendar and its users'.
type CalendarRepository interface {
	// Calendars are the default calendar, then the users' by user.
	Calendars(ctx context.Context, tenant uuid.UUID) ([]*domain.WorkCalendar, error)
	Calendar(ctx context.Context, tenant, id uuid.UUID) (*domain.WorkCalendar, error)
	// AddCalendar stores a user's calendar; a user who has one is
	// ErrCalendarExists.
	AddCalendar(ctx context.Context, tenant uuid.UUID, w *domain.WorkCalendar) error
	UpdateCalendar(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.WorkCalendar) error) (*domain.WorkCalendar, error)
	DeleteCalendar(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.WorkCalendar) error) error
}

// SettingsRepository stores a tenant's rules of tasks.
type SettingsRepository interface {
	Settings(ctx context.Context, tenant uuid.UUID) (domain.Settings, error)
	UpdateSettings(ctx context.Context, tenant uuid.UUID, fn func(*domain.Settings) error) (domain.Settings, error)
}

// ErrOutcomeKeyTaken answers a second outcome with one key.
var ErrOutcomeKeyTaken = apperr.New(apperr.KindConflict, "outcome-exists", "the tenant has an outcome with this key")

// ErrCalendarExists answers a second calendar for one user.
var ErrCalendarExists = apperr.New(apperr.KindConflict, "calendar-exists", "the user already has a calendar; change that one")

var errNotConfigurer = apperr.New(apperr.KindForbidden, "admin-only",
	"only admins and managers may change outcomes, the tenant's calendar and its rules of tasks")

// configurer is a principal that may change the tenant's configuration.
func configurer(ctx context.Context) (auth.Principal, error) {
	return auth.Configurer(ctx, errNotConfigurer)
}

// Outcomes lists the tenant's outcomes; archived ones only when asked.
func (s *Service) Outcomes(ctx context.Context, archived bool) ([]*domain.Outcome, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.config.Outcomes(ctx, p.TenantID)
	out := make([]*domain.Outcome, 0, len(all))
	for _, o := range all {
		if archived || !o.Archived() {
			out = append(out, o)
		}
	}
	return out, err
}

// GetOutcome reads one outcome.
func (s *Service) GetOutcome(ctx context.Context, id uuid.UUID) (*domain.Outcome, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.config.Outcome(ctx, p.TenantID, id)
}

// AddOutcome adds an outcome after the others.
func (s *Service) AddOutcome(ctx context.Context, spec domain.OutcomeSpec, invalid []apperr.FieldError) (*domain.Outcome, error) {
	p, err := configurer(ctx)
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 {
		_, err := domain.NewOutcome(spec, 0, s.now())
		return nil, apperr.Before(invalid, err)
	}
	return s.config.AddOutcome(ctx, p.TenantID, func(count int) (*domain.Outcome, error) {
		return domain.NewOutcome(spec, count, s.now())
	})
}

// ChangeOutcome relabels an outcome, changes its ladder or (un)archives it.
func (s *Service) ChangeOutcome(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, patch domain.OutcomePatch, invalid []apperr.FieldError) (*domain.Outcome, error) {
	p, err := configurer(ctx)
	if err != nil {
		return nil, err
	}
	return s.config.UpdateOutcome(ctx, p.TenantID, id, func(o *domain.Outcome) error {
		if err := ifMatch.Check(o.Version()); err != nil {
			return err
		}
		if err := apperr.Before(invalid, o.Change(patch)); err != nil {
			return err
		}
		o.Advance(s.now())
		return nil
	})
}

// Calendars lists the default calendar and the users'.
func (s *Service) Calendars(ctx context.Context) ([]*domain.WorkCalendar, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.config.Calendars(ctx, p.TenantID)
}

// GetCalendar reads one calendar.
func (s *Service) GetCalendar(ctx context.Context, id uuid.UUID) (*domain.WorkCalendar, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.config.Calendar(ctx, p.TenantID, id)
}

// calendarKeeper is a principal who may change user's calendar (user ""
// is the tenant's default): admins and managers any, a user who writes
// their own.
func calendarKeeper(ctx context.Context, user string) (auth.Principal, error) {
	p, err := auth.Caller(ctx)
	if err != nil || p.Configures() || (user != "" && user == p.UserID && p.Writes()) {
		return p, err
	}
	return p, errNotConfigurer
}

// AddCalendar gives a user a calendar of their own.
func (s *Service) AddCalendar(ctx context.Context, user string, doc domain.CalendarDoc) (*domain.WorkCalendar, error) {
	p, err := calendarKeeper(ctx, user)
	if err != nil {
		return nil, err
	}
	spec, err := doc.Spec()
	if err != nil {
		return nil, err
	}
	w, err := domain.NewWorkCalendar(user, spec, s.now())
	if err != nil {
		return nil, err
	}
	return w, s.config.AddCalendar(ctx, p.TenantID, w)
}

// ReplaceCalendar sets a calendar's hours, holidays and working days.
func (s *Service) ReplaceCalendar(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, doc domain.CalendarDoc) (*domain.WorkCalendar, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.config.UpdateCalendar(ctx, p.TenantID, id, func(w *domain.WorkCalendar) error {
		if _, err := calendarKeeper(ctx, w.UserID()); err != nil {
			return err
		}
		if err := ifMatch.Check(w.Version()); err != nil {
			return err
		}
		spec, err := doc.Spec()
		if err != nil {
			return err
		}
		if err := w.Replace(spec); err != nil {
			return err
		}
		w.Advance(s.now())
		return nil
	})
}

// DeleteCalendar deletes a user's calendar: the default applies to them again.
func (s *Service) DeleteCalendar(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	return s.config.DeleteCalendar(ctx, p.TenantID, id, func(w *domain.WorkCalendar) error {
		if _, err := calendarKeeper(ctx, w.UserID()); err != nil {
			return err
		}
		if err := ifMatch.Check(w.Version()); err != nil {
			return err
		}
		return w.CheckDelete()
	})
}

// Settings reads the tenant's rules of tasks.
func (s *Service) Settings(ctx context.Context) (domain.Settings, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return domain.Settings{}, err
	}
	return s.config.Settings(ctx, p.TenantID)
}

// ChangeSettings changes the tenant's rules of tasks.
func (s *Service) ChangeSettings(ctx context.Context, ifMatch access.IfMatch, patch domain.SettingsPatch) (domain.Settings, error) {
	p, err := configurer(ctx)
	if err != nil {
		return domain.Settings{}, err
	}
	return s.config.UpdateSettings(ctx, p.TenantID, func(st *domain.Settings) error {
		if err := ifMatch.Check(st.Version); err != nil {
			return err
		}
		if err := st.Apply(patch); err != nil {
			return err
		}
		st.Version++
		st.UpdatedAt = s.now()
		return nil
	})
}
