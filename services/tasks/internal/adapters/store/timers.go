package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// The due-time events a timer brings about.
const (
	DueSoon = service.DueSoon
	Overdue = service.Overdue
)

// Timer is a moment when a tenant's due-time events are due: a job of the
// due-time queue (package timers). One timer serves every task of the
// tenant due at that second.
type Timer struct {
	Event string
	At    time.Time
}

// TimerQueue schedules timers in a write's transaction: they are planned
// exactly when the write commits. Committed tells it that a write's
// timers committed (it may then skip scheduling them again while they
// wait).
type TimerQueue interface {
	ScheduleTx(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, timers []Timer) error
	Committed(tenant uuid.UUID, timers []Timer)
}

func schedule(ctx context.Context, q TimerQueue, tx pgx.Tx, tenant uuid.UUID, timers []Timer) error {
	if q == nil || len(timers) == 0 {
		return nil
	}
	return q.ScheduleTx(ctx, tx, tenant, timers)
}

func committed(q TimerQueue, tenant uuid.UUID, timers []Timer) {
	if q != nil && len(timers) > 0 {
		q.Committed(tenant, timers)
	}
}

// due is what a task's timers depend on.
type due struct{ at, remind *time.Time }

func dueOf(t *domain.Task) due { return due{at: t.DueAt(), remind: t.RemindAt()} }

func sameTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// timersOf are the timers a write of t needs (before: its due times
// before the write; nil for a new task): its overdue moment and its
// reminder, when they are new or moved. A timer already passed, or about
// to, is set two seconds ahead, so that it never joins a job already
// running.
func timersOf(before *due, t *domain.Task) []Timer {
	if t.Status() != domain.StatusOpen {
		return nil
	}
	now := time.Now()
	second := func(at time.Time) time.Time {
		if floor := now.Add(2 * time.Second); at.Before(floor) {
			at = floor
		}
		return at.Truncate(time.Second).Add(time.Second).UTC()
	}
	var out []Timer
	if at := t.DueAt(); at != nil && (before == nil || !sameTime(before.at, at)) {
		out = append(out, Timer{Event: Overdue, At: second(*at)})
	}
	if at := t.RemindAt(); at != nil && (before == nil || !sameTime(before.remind, at)) {
		out = append(out, Timer{Event: DueSoon, At: second(*at)})
	}
	return out
}

// MarkDue marks, in tx, the open tasks of tenant whose event is due at now
// and not yet told for their current due time, and returns them: the
// caller publishes their events in the same transaction. Run again, it
// finds nothing more.
func MarkDue(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, event string, now time.Time) ([]*domain.Task, error) {
	var stmt string
	switch event {
	case Overdue:
		stmt = `update tasks set overdue_for = due_at where tenant_id = $1 and status = 'open' and due_at <= $2
			and overdue_for is distinct from due_at returning ` + taskCols
	case DueSoon:
		stmt = `update tasks set reminded_for = due_at where tenant_id = $1 and status = 'open' and remind_at <= $2
			and reminded_for is distinct from due_at returning ` + taskCols
	default:
		return nil, errors.New("store: no such due-time event " + event)
	}
	rows, err := tx.Query(ctx, stmt, tenant, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) { return scanTask(row) })
}
