package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// Config stores a tenant's outcomes, calendars and rules of tasks.
type Config struct{ pool *pgxpool.Pool }

// NewConfig stores the configuration in pool's database.
func NewConfig(pool *pgxpool.Pool) *Config { return &Config{pool: pool} }

var _ service.ConfigRepository = (*Config)(nil)

const outcomeCols = `id, key, label, action, ladder_minutes, position, archived, version, updated_at`

func scanOutcome(row pgx.Row) (*domain.Outcome, error) {
	var r domain.OutcomeRecord
	var minutes []int
	if err := row.Scan(&r.ID, &r.Key, &r.Label, &r.Action, &minutes, &r.Position, &r.Archived, &r.Version, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.Ladder = domain.FromMinutes(minutes)
	return domain.UnmarshalOutcomeFromDatabase(r), nil
}

// Outcomes reads the tenant's outcomes in their order.
func (c *Config) Outcomes(ctx context.Context, tenant uuid.UUID) ([]*domain.Outcome, error) {
	var out []*domain.Outcome
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+outcomeCols+` from outcomes where tenant_id = $1 order by position, key`, tenant)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Outcome, error) { return scanOutcome(row) })
		return err
	})
	return out, err
}

func getOutcome(ctx context.Context, tx pgx.Tx, tenant, id uuid.UUID, lock string) (*domain.Outcome, error) {
	o, err := scanOutcome(tx.QueryRow(ctx, `select `+outcomeCols+` from outcomes where tenant_id = $1 and id = $2`+lock, tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrOutcomeNotFound
	}
	return o, err
}

// Outcome reads one outcome.
func (c *Config) Outcome(ctx context.Context, tenant, id uuid.UUID) (*domain.Outcome, error) {
	var o *domain.Outcome
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) (err error) {
		o, err = getOutcome(ctx, tx, tenant, id, "")
		return err
	})
	return o, err
}

func queueOutcome(b *pgx.Batch, tenant uuid.UUID, o *domain.Outcome) {
	r := o.Record()
	b.Queue(`insert into outcomes (tenant_id, `+outcomeCols+`) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		on conflict (tenant_id, id) do update set label = excluded.label, ladder_minutes = excluded.ladder_minutes,
			archived = excluded.archived, version = excluded.version, updated_at = excluded.updated_at`,
		tenant, r.ID, r.Key, r.Label, r.Action, domain.Minutes(r.Ladder), r.Position, r.Archived, r.Version, r.UpdatedAt)
}

// AddOutcome stores the outcome fn makes after the others; a key the
// tenant has is a conflict.
func (c *Config) AddOutcome(ctx context.Context, tenant uuid.UUID, fn func(count int) (*domain.Outcome, error)) (*domain.Outcome, error) {
	var o *domain.Outcome
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		// One writer at a time per tenant keeps positions dense.
		if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtextextended('outcomes:' || $1::text, 0))`, tenant); err != nil {
			return err
		}
		var count int
		if err := tx.QueryRow(ctx, `select count(*) from outcomes where tenant_id = $1`, tenant).Scan(&count); err != nil {
			return err
		}
		var err error
		if o, err = fn(count); err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueOutcome(b, tenant, o)
		return tx.SendBatch(ctx, b).Close()
	})
	if isUnique(err) {
		return nil, service.ErrOutcomeKeyTaken
	}
	return o, err
}

func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

// UpdateOutcome locks an outcome, lets fn change it and stores it.
func (c *Config) UpdateOutcome(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.Outcome) error) (*domain.Outcome, error) {
	var o *domain.Outcome
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		var err error
		if o, err = getOutcome(ctx, tx, tenant, id, " for update"); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueOutcome(b, tenant, o)
		return tx.SendBatch(ctx, b).Close()
	})
	return o, err
}

const calendarCols = `id, user_id, spec, version, updated_at`

func scanCalendar(row pgx.Row) (*domain.WorkCalendar, error) {
	var id uuid.UUID
	var user string
	var doc domain.CalendarDoc
	var version int64
	var updated time.Time
	if err := row.Scan(&id, &user, &doc, &version, &updated); err != nil {
		return nil, err
	}
	spec, err := doc.Spec()
	if err != nil {
		return nil, err
	}
	return domain.UnmarshalWorkCalendarFromDatabase(id, user, spec, version, updated)
}

// Calendars reads the default calendar, then the users' by user.
func (c *Config) Calendars(ctx context.Context, tenant uuid.UUID) ([]*domain.WorkCalendar, error) {
	var out []*domain.WorkCalendar
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+calendarCols+` from calendars where tenant_id = $1 order by user_id`, tenant)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.WorkCalendar, error) { return scanCalendar(row) })
		return err
	})
	return out, err
}

func getCalendar(ctx context.Context, tx pgx.Tx, tenant, id uuid.UUID, lock string) (*domain.WorkCalendar, error) {
	w, err := scanCalendar(tx.QueryRow(ctx, `select `+calendarCols+` from calendars where tenant_id = $1 and id = $2`+lock, tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrCalendarNotFound
	}
	return w, err
}

// Calendar reads one calendar.
func (c *Config) Calendar(ctx context.Context, tenant, id uuid.UUID) (*domain.WorkCalendar, error) {
	var w *domain.WorkCalendar
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) (err error) {
		w, err = getCalendar(ctx, tx, tenant, id, "")
		return err
	})
	return w, err
}

func putCalendar(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, w *domain.WorkCalendar, onConflict string) (pgconn.CommandTag, error) {
	doc, err := json.Marshal(domain.DocOf(w.Spec()))
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return tx.Exec(ctx, `insert into calendars (tenant_id, `+calendarCols+`) values ($1, $2, $3, $4, $5, $6) `+onConflict,
		tenant, w.ID(), w.UserID(), doc, w.Version(), w.UpdatedAt())
}

// AddCalendar stores a user's calendar.
func (c *Config) AddCalendar(ctx context.Context, tenant uuid.UUID, w *domain.WorkCalendar) error {
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		_, err := putCalendar(ctx, tx, tenant, w, "")
		return err
	})
	if isUnique(err) {
		return service.ErrCalendarExists
	}
	return err
}

// UpdateCalendar locks a calendar, lets fn change it and stores it.
func (c *Config) UpdateCalendar(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.WorkCalendar) error) (*domain.WorkCalendar, error) {
	var w *domain.WorkCalendar
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		var err error
		if w, err = getCalendar(ctx, tx, tenant, id, " for update"); err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		_, err = putCalendar(ctx, tx, tenant, w, `on conflict (tenant_id, id) do update set spec = excluded.spec,
			version = excluded.version, updated_at = excluded.updated_at`)
		return err
	})
	return w, err
}

// DeleteCalendar locks a calendar, lets fn approve and deletes it.
func (c *Config) DeleteCalendar(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.WorkCalendar) error) error {
	return postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		w, err := getCalendar(ctx, tx, tenant, id, " for update")
		if err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `delete from calendars where tenant_id = $1 and id = $2`, tenant, id)
		return err
	})
}

const settingsCols = `discipline, call_window_from, call_window_to, first_response_minutes, reminder_minutes, repeat_sale_days,
	exhausted_loses_deal, kinds, version, updated_at`

func scanSettings(row pgx.Row) (domain.Settings, error) {
	var s domain.Settings
	var from, to, first, reminder int
	err := row.Scan(&s.Discipline, &from, &to, &first, &reminder, &s.RepeatSaleDays, &s.ExhaustedLosesDeal, &s.Kinds, &s.Version, &s.UpdatedAt)
	s.CallWindow = domain.Span{From: domain.Clock(from), To: domain.Clock(to)}
	s.FirstResponse, s.ReminderLead = time.Duration(first)*time.Minute, time.Duration(reminder)*time.Minute
	return s, err
}

func getSettings(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, lock string) (domain.Settings, error) {
	s, err := scanSettings(tx.QueryRow(ctx, `select `+settingsCols+` from task_settings where tenant_id = $1`+lock, tenant))
	if errors.Is(err, pgx.ErrNoRows) {
		// A tenant whose record this service has not applied yet.
		return domain.DefaultSettings(), nil
	}
	return s, err
}

func putSettings(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, s domain.Settings, onConflict string) error {
	kinds := s.Kinds
	if kinds == nil {
		kinds = []string{}
	}
	_, err := tx.Exec(ctx, `insert into task_settings (tenant_id, `+settingsCols+`) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) `+onConflict,
		tenant, s.Discipline, int(s.CallWindow.From), int(s.CallWindow.To), int(s.FirstResponse/time.Minute), int(s.ReminderLead/time.Minute),
		s.RepeatSaleDays, s.ExhaustedLosesDeal, kinds, s.Version, s.UpdatedAt)
	return err
}

// Settings reads the tenant's rules of tasks.
func (c *Config) Settings(ctx context.Context, tenant uuid.UUID) (domain.Settings, error) {
	var s domain.Settings
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) (err error) {
		s, err = getSettings(ctx, tx, tenant, "")
		return err
	})
	return s, err
}

// UpdateSettings locks the tenant's settings, lets fn change them and
// stores them.
func (c *Config) UpdateSettings(ctx context.Context, tenant uuid.UUID, fn func(*domain.Settings) error) (domain.Settings, error) {
	var s domain.Settings
	err := postgres.InTenant(ctx, c.pool, tenant, func(tx pgx.Tx) error {
		var err error
		if s, err = getSettings(ctx, tx, tenant, " for update"); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		return putSettings(ctx, tx, tenant, s, `on conflict (tenant_id) do update set discipline = excluded.discipline,
			call_window_from = excluded.call_window_from, call_window_to = excluded.call_window_to,
			first_response_minutes = excluded.first_response_minutes, reminder_minutes = excluded.reminder_minutes,
			repeat_sale_days = excluded.repeat_sale_days, exhausted_loses_deal = excluded.exhausted_loses_deal,
			kinds = excluded.kinds, version = excluded.version, updated_at = excluded.updated_at`)
	})
	return s, err
}

// Planning reads the outcome of key, the settings and the calendars of
// users and the default, in one pipeline: one round trip.
func (c *Config) Planning(ctx context.Context, tenant uuid.UUID, key string, users ...string) (service.PlanContext, error) {
	b, pc := planningBatch(tenant, key, users)
	err := postgres.InTenantBatch(ctx, c.pool, tenant, b)
	return *pc, err
}

func readPlanning(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, key string, users []string) (service.PlanContext, error) {
	b, pc := planningBatch(tenant, key, users)
	err := tx.SendBatch(ctx, b).Close()
	return *pc, err
}

// planningBatch queues the reads of Planning; their results land in pc
// once the batch is sent.
func planningBatch(tenant uuid.UUID, key string, users []string) (*pgx.Batch, *service.PlanContext) {
	pc := &service.PlanContext{Calendars: map[string]*domain.Calendar{}}
	b := &pgx.Batch{}
	if key != "" {
		b.Queue(`select `+outcomeCols+` from outcomes where tenant_id = $1 and key = $2`, tenant, key).QueryRow(func(row pgx.Row) error {
			o, err := scanOutcome(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			pc.Outcome = o
			return err
		})
	}
	b.Queue(`select `+settingsCols+` from task_settings where tenant_id = $1`, tenant).QueryRow(func(row pgx.Row) error {
		s, err := scanSettings(row)
		if errors.Is(err, pgx.ErrNoRows) {
			s, err = domain.DefaultSettings(), nil
		}
		pc.Settings = s
		return err
	})
	b.Queue(`select `+calendarCols+` from calendars where tenant_id = $1 and user_id = any($2)`, tenant, append([]string{""}, users...)).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				w, err := scanCalendar(rows)
				if err != nil {
					return err
				}
				pc.Calendars[w.UserID()] = w.Calendar()
			}
			return rows.Err()
		})
	return b, pc
}

// Seed gives a tenant its defaults, once: the outcomes (when it has none),
// the default calendar and the settings.
func Seed(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, locale, zone string, now time.Time) error {
	var outcomes int
	if err := tx.QueryRow(ctx, `select count(*) from outcomes where tenant_id = $1`, tenant).Scan(&outcomes); err != nil {
		return err
	}
	b := &pgx.Batch{}
	if outcomes == 0 {
		for i, spec := range domain.DefaultOutcomes(locale) {
			o, err := domain.NewOutcome(spec, i, now)
			if err != nil {
				return err
			}
			queueOutcome(b, tenant, o)
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if _, err := putCalendar(ctx, tx, tenant, domain.DefaultCalendar(locale, zone, now.Year(), now), "on conflict (tenant_id, user_id) do nothing"); err != nil {
		return err
	}
	s := domain.DefaultSettings()
	s.UpdatedAt = now
	return putSettings(ctx, tx, tenant, s, "on conflict (tenant_id) do nothing")
}
