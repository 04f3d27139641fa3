// Package store keeps the tasks service's records in PostgreSQL, every
// statement in a transaction scoped to one tenant (row-level security backs
// the filter).
package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// Tasks stores tasks. Each write owns its transaction: it scopes it to the
// tenant, runs the use case's callback and stores the task with the
// callback's events in the outbox.
type Tasks struct {
	pool   *pgxpool.Pool
	timers TimerQueue
}

// NewTasks stores tasks in pool's database and schedules their due-time
// events on timers (nil: none).
func NewTasks(pool *pgxpool.Pool, timers TimerQueue) *Tasks {
	return &Tasks{pool: pool, timers: timers}
}

var _ service.TaskRepository = (*Tasks)(nil)

const taskCols = `id, tenant_id, kind, subject, note, due_at, coalesce(to_char(due_date, 'YYYY-MM-DD'), ''), duration_minutes,
	priority, owner_id, team, status, outcome, result, closed_by, closed_at, deal_id, contact_id, company_id, previous_id, attempt,
	client_time_zone, remind_at, version, created_at, updated_at`

func scanTask(row pgx.Row) (*domain.Task, error) {
	var r domain.TaskRecord
	f := &r.Fields
	var deal, contact, company, previous *uuid.UUID
	err := row.Scan(&r.ID, &r.TenantID, &f.Kind, &f.Subject, &f.Note, &f.DueAt, &f.DueDate, &f.DurationMinutes,
		&f.Priority, &f.OwnerID, &f.Team, &r.Status, &r.Outcome, &r.Result, &r.ClosedBy, &r.ClosedAt,
		&deal, &contact, &company, &previous, &r.Chain.Attempt, &r.ClientTimeZone, &r.RemindAt, &r.Version, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	f.DealID, f.ContactID, f.CompanyID, r.Chain.PreviousID = ids.Of(deal), ids.Of(contact), ids.Of(company), ids.Of(previous)
	return domain.UnmarshalTaskFromDatabase(r), nil
}

func taskArgs(t *domain.Task) []any {
	r := t.Record()
	f := r.Fields
	var due any
	if f.DueDate != "" {
		due = f.DueDate
	}
	return []any{r.TenantID, r.ID, f.Kind, f.Subject, f.Note, f.DueAt, due, f.DurationMinutes, f.Priority, f.OwnerID, f.Team,
		r.Status, r.Outcome, r.Result, r.ClosedBy, r.ClosedAt, r.Version, r.CreatedAt, r.UpdatedAt,
		ids.Ptr(f.DealID), ids.Ptr(f.ContactID), ids.Ptr(f.CompanyID), ids.Ptr(r.Chain.PreviousID), r.Chain.Attempt, r.ClientTimeZone, r.RemindAt}
}

// Create inserts t with the events evs names for it, in one round trip.
func (s *Tasks) Create(ctx context.Context, t *domain.Task, evs func(*domain.Task) ([]events.Event, error)) (err error) {
	list, err := evs(t)
	if err != nil {
		return err
	}
	timers := timersOf(nil, t)
	defer func() {
		if err == nil {
			committed(s.timers, t.TenantID(), timers)
		}
	}()
	return postgres.InTenant(ctx, s.pool, t.TenantID(), func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsert(b, t)
		if err := events.QueueAppend(ctx, b, list...); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return schedule(ctx, s.timers, tx, t.TenantID(), timers)
	})
}

// queueInsert queues t's insert.
func queueInsert(b *pgx.Batch, t *domain.Task) {
	b.Queue(`insert into tasks (tenant_id, id, kind, subject, note, due_at, due_date, duration_minutes, priority, owner_id, team,
		status, outcome, result, closed_by, closed_at, version, created_at, updated_at,
		deal_id, contact_id, company_id, previous_id, attempt, client_time_zone, remind_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
		$20, $21, $22, $23, $24, $25, $26)`, taskArgs(t)...)
}

// queueUpdate queues the update of t's row.
func queueUpdate(b *pgx.Batch, t *domain.Task) {
	b.Queue(`update tasks set kind = $3, subject = $4, note = $5, due_at = $6, due_date = $7, duration_minutes = $8,
			priority = $9, owner_id = $10, team = $11, status = $12, outcome = $13, result = $14, closed_by = $15, closed_at = $16,
			version = $17, created_at = $18, updated_at = $19,
			deal_id = $20, contact_id = $21, company_id = $22, previous_id = $23, attempt = $24, client_time_zone = $25,
			remind_at = $26
			where tenant_id = $1 and id = $2`, taskArgs(t)...)
}

// Get reads one task.
func (s *Tasks) Get(ctx context.Context, tenant, id uuid.UUID) (*domain.Task, error) {
	var t *domain.Task
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) (err error) {
		t, err = get(ctx, tx, tenant, id, "")
		return err
	})
	return t, err
}

func get(ctx context.Context, tx pgx.Tx, tenant, id uuid.UUID, lock string) (*domain.Task, error) {
	t, err := scanTask(tx.QueryRow(ctx, `select `+taskCols+` from tasks where tenant_id = $1 and id = $2`+lock, tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrTaskNotFound
	}
	return t, err
}

// Update locks the task, lets fn change it and say what else it does,
// and stores the task, the tasks it plans and the events in one round trip.
func (s *Tasks) Update(ctx context.Context, tenant, id uuid.UUID, fn func(service.DealSteps, *domain.Task) (service.Effects, error)) (*domain.Task, error) {
	var t *domain.Task
	// The row is locked in the round trip that begins the transaction.
	lock := func(b *pgx.Batch) {
		b.Queue(`select `+taskCols+` from tasks where tenant_id = $1 and id = $2 for update`, tenant, id).QueryRow(func(row pgx.Row) error {
			var err error
			if t, err = scanTask(row); errors.Is(err, pgx.ErrNoRows) {
				return domain.ErrTaskNotFound
			}
			return err
		})
	}
	var timers []Timer
	err := postgres.InTenantReading(ctx, s.pool, tenant, lock, func(tx pgx.Tx) error {
		before := dueOf(t)
		fx, err := fn(dealSteps{tx: tx, tenant: tenant}, t)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		timers = timersOf(&before, t)
		for _, p := range fx.Plan {
			queueInsert(b, p)
			timers = append(timers, timersOf(nil, p)...)
		}
		queueUpdate(b, t)
		if err := events.QueueAppend(ctx, b, fx.Events...); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return schedule(ctx, s.timers, tx, tenant, timers)
	})
	if err == nil {
		committed(s.timers, tenant, timers)
	}
	return t, err
}

// Delete locks the task, lets fn approve it and name the events, and
// deletes it.
func (s *Tasks) Delete(ctx context.Context, tenant, id uuid.UUID, fn func(service.DealSteps, *domain.Task) ([]events.Event, error)) error {
	return postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		t, err := get(ctx, tx, tenant, id, " for update")
		if err != nil {
			return err
		}
		list, err := fn(dealSteps{tx: tx, tenant: tenant}, t)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`delete from tasks where tenant_id = $1 and id = $2`, tenant, id)
		if err := events.QueueAppend(ctx, b, list...); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// ListTasks reads the tasks v may see that match q, after q.After, in id
// order: all of them for v.All, else v's own and, for v.TeamWide, v's
// team's.
func (s *Tasks) ListTasks(ctx context.Context, tenant uuid.UUID, v access.Viewer, q service.Query) ([]*domain.Task, error) {
	where := []string{"tenant_id = $1", "id > $2", "($3 or (owner_id = $4 and $4 <> '') or ($5 and team = $6 and $6 <> ''))"}
	args := []any{tenant, q.After, v.All, v.UserID, v.TeamWide, v.Team}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.OwnerID != "" {
		add("owner_id = ?", q.OwnerID)
	}
	if q.Status != "" {
		add("status = ?", q.Status)
	}
	if q.Kind != "" {
		add("kind = ?", q.Kind)
	}
	if q.DealID != uuid.Nil {
		add("deal_id = ?", q.DealID)
	}
	if q.ContactID != uuid.Nil {
		add("contact_id = ?", q.ContactID)
	}
	if q.DueFrom != nil {
		add("due_at >= ?", *q.DueFrom)
	}
	if q.DueTo != nil {
		add("due_at < ?", *q.DueTo)
	}
	if q.OverdueAt != nil {
		add("status = 'open' and due_at < ?", *q.OverdueAt)
	}
	args = append(args, q.Limit)
	var out []*domain.Task
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+taskCols+` from tasks where `+strings.Join(where, " and ")+
			` order by id limit $`+strconv.Itoa(len(args)), args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) { return scanTask(row) })
		return err
	})
	return out, err
}

// Agenda counts owner's open tasks v may see by when they are due, in one
// statement.
func (s *Tasks) Agenda(ctx context.Context, tenant uuid.UUID, v access.Viewer, owner string, d service.AgendaDays) (service.Agenda, error) {
	var a service.Agenda
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select
				count(*) filter (where due_at < $7 or due_date < $8::date),
				count(*) filter (where (due_at >= $7 and due_at < $9) or due_date = $8::date),
				count(*) filter (where (due_at >= $9 and due_at < $10) or due_date = $11::date),
				count(*) filter (where (due_at >= $10 and due_at < $12) or (due_date > $11::date and due_date < $13::date)),
				count(*) filter (where due_at >= $14 or due_date >= $15::date),
				count(*) filter (where due_at is null and due_date is null)
			from tasks
			where tenant_id = $1 and status = 'open' and owner_id = $2
			  and ($3 or (owner_id = $4 and $4 <> '') or ($5 and team = $6 and $6 <> ''))`,
			tenant, owner, v.All, v.UserID, v.TeamWide, v.Team,
			d.Now, d.TodayDate, d.Tomorrow, d.DayAfter, d.TomorrowDate, d.WeekEnd, d.WeekEndDate, d.LaterAt, d.LaterDate).
			Scan(&a.Overdue, &a.Today, &a.Tomorrow, &a.ThisWeek, &a.Later, &a.Undated)
	})
	return a, err
}

// dealSteps reads a deal's next steps in a write's transaction.
type dealSteps struct {
	tx     pgx.Tx
	tenant uuid.UUID
}

// Deal locks the deal's tasks until the transaction ends (a transaction
// lock on the deal's id: two writes closing the deal's last two tasks
// take turns, and the second sees the first's), then reads its status
// ("" when the projection does not know it) and how many open tasks it
// has besides except.
func (d dealSteps) Deal(ctx context.Context, deal, except uuid.UUID) (string, int, error) {
	return lockDeal(ctx, d.tx, d.tenant, deal, except)
}

func lockDeal(ctx context.Context, tx pgx.Tx, tenant, deal, except uuid.UUID) (status string, others int, err error) {
	if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text, 0))`, tenant, deal); err != nil {
		return "", 0, err
	}
	err = tx.QueryRow(ctx, `select coalesce((select status from known_deals where tenant_id = $1 and id = $2 and not deleted), ''),
			(select count(*) from tasks where tenant_id = $1 and deal_id = $2 and status = 'open' and id <> $3)`,
		tenant, deal, except).Scan(&status, &others)
	return status, others, err
}

// HourLoad counts owner's open tasks v may see by the hour they are due in, from
// (inclusive) to to, hours reckoned in zone, leaving except out.
func (s *Tasks) HourLoad(ctx context.Context, tenant uuid.UUID, v access.Viewer, owner, zone string, from, to time.Time, except uuid.UUID) (map[time.Time]int, error) {
	out := map[time.Time]int{}
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select date_trunc('hour', due_at at time zone $5) at time zone $5, count(*) from tasks
			where tenant_id = $1 and owner_id = $2 and status = 'open' and due_at >= $3 and due_at < $4 and id <> $6
			  and ($7 or (owner_id = $8 and $8 <> '') or ($9 and team = $10 and $10 <> ''))
			group by 1`, tenant, owner, from, to, zone, except, v.All, v.UserID, v.TeamWide, v.Team)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var hour time.Time
			var n int
			if err := rows.Scan(&hour, &n); err != nil {
				return err
			}
			out[hour.UTC()] = n
		}
		return rows.Err()
	})
	return out, err
}

// ClaimNext serves owner the first open task, in the order most urgent
// first (overdue, then due before horizon, the end of the owner's day;
// by priority, then due time), that no other claimer holds and that pick
// accepts, and claims it for claimer until until. The claim locks only
// the task it takes, skipping one another request is taking: two requests
// at once are served two tasks.
func (s *Tasks) ClaimNext(ctx context.Context, tenant uuid.UUID, owner, claimer string, now, horizon, until time.Time,
	pick func(*domain.Task) bool) (*domain.Task, error) {
	// The owner's day: all-day tasks of today and before.
	today := horizon.Add(-time.Nanosecond).Format(time.DateOnly)
	var out *domain.Task
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		for offset := 0; offset < 1000 && out == nil; offset += 50 {
			rows, err := tx.Query(ctx, `select `+taskCols+` from tasks
				where tenant_id = $1 and owner_id = $2 and status = 'open'
				  and (due_at < $4 or due_date <= $5::date)
				  and (claimed_by = $3 or claimed_by = '' or claim_until < $6)
				order by (coalesce(due_at < $6, false) or coalesce(due_date < $5::date, false)) desc,
				         case priority when 'high' then 0 when 'normal' then 1 else 2 end,
				         coalesce(due_at, due_date::timestamptz), id
				limit 50 offset $7`,
				tenant, owner, claimer, horizon, today, now, offset)
			if err != nil {
				return err
			}
			batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) { return scanTask(row) })
			if err != nil {
				return err
			}
			var eligible []uuid.UUID
			byID := map[uuid.UUID]*domain.Task{}
			for _, t := range batch {
				if pick(t) {
					eligible = append(eligible, t.ID())
					byID[t.ID()] = t
				}
			}
			if len(eligible) > 0 {
				var id uuid.UUID
				err := tx.QueryRow(ctx, `with first as (
						select id from tasks where tenant_id = $1 and id = any($2) and status = 'open'
						  and (claimed_by = $3 or claimed_by = '' or claim_until < $4)
						order by array_position($2, id) limit 1 for update skip locked)
					update tasks t set claimed_by = $3, claim_until = $5 from first
					where t.tenant_id = $1 and t.id = first.id returning t.id`, tenant, eligible, claimer, now, until).Scan(&id)
				switch {
				case err == nil:
					out = byID[id]
					return nil
				case !errors.Is(err, pgx.ErrNoRows):
					return err
				}
			}
			if len(batch) < 50 {
				break
			}
		}
		return nil
	})
	return out, err
}
