package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Activities is the PostgreSQL repository of activities and of the
// contacts' timelines.
type Activities struct{ pool *pgxpool.Pool }

// NewActivities returns a repository over pool (connected as the app role).
func NewActivities(pool *pgxpool.Pool) *Activities { return &Activities{pool: pool} }

var _ service.ActivityRepository = (*Activities)(nil)

const activityColumns = `id, tenant_id, kind, direction, outcome, duration_seconds, occurred_at, subject, body,
	contact_id, company_id, deal_id, owner_id, created_at`

func scanActivity(row pgx.Row) (*domain.Activity, error) {
	var (
		id, tenant             uuid.UUID
		f                      domain.ActivityFields
		seconds                int64
		contact, company, deal *uuid.UUID
		created                time.Time
	)
	if err := row.Scan(&id, &tenant, &f.Kind, &f.Direction, &f.Outcome, &seconds, &f.OccurredAt, &f.Subject, &f.Body,
		&contact, &company, &deal, &f.OwnerID, &created); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, domain.ErrActivityNotFound
		}
		return nil, err
	}
	f.Duration = time.Duration(seconds) * time.Second
	for _, p := range []struct {
		dst *uuid.UUID
		src *uuid.UUID
	}{{&f.ContactID, contact}, {&f.CompanyID, company}, {&f.DealID, deal}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	return domain.UnmarshalActivityFromDatabase(id, tenant, f, created), nil
}

// Create writes the activity and its events in one pipelined round trip.
func (r *Activities) Create(ctx context.Context, a *domain.Activity, evs []events.Event) error {
	f := a.Fields()
	b := &pgx.Batch{}
	if f.ContactID != uuid.Nil {
		// Holds the contact live (not erased) until the activity commits.
		b.Queue(`select contacts_assert_live($1, $2)`, a.TenantID(), f.ContactID)
	}
	b.Queue(`insert into activities (`+activityColumns+`) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		a.ID(), a.TenantID(), f.Kind, f.Direction, f.Outcome, int64(f.Duration/time.Second), f.OccurredAt, f.Subject, f.Body,
		ids.Ptr(f.ContactID), ids.Ptr(f.CompanyID), ids.Ptr(f.DealID), f.OwnerID, a.CreatedAt())
	if err := events.QueueAppend(ctx, b, evs...); err != nil {
		return err
	}
	if err := queueTimeline(b, a.TenantID(), evs); err != nil {
		return err
	}
	err := postgres.InTenantBatch(ctx, r.pool, a.TenantID(), b)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeNotLive {
		// The service found the contact live a moment ago: it was erased
		// (or deleted) since.
		return domain.ErrContactErased
	}
	if errors.As(err, &pgErr) && pgErr.Code == codeForeignKey {
		var v apperr.Invalid
		if strings.Contains(pgErr.ConstraintName, "company") {
			v.Add("company_id", "no such company")
		} else {
			v.Add("contact_id", "no such contact")
		}
		return v.Err()
	}
	return err
}

func (r *Activities) Get(ctx context.Context, tenantID, id uuid.UUID) (a *domain.Activity, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		a, err = scanActivity(tx.QueryRow(ctx, `select `+activityColumns+` from activities where tenant_id = $1 and id = $2`, tenantID, id))
		return err
	})
	return a, err
}

func (r *Activities) Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Activity) ([]events.Event, error)) error {
	return postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		a, err := scanActivity(tx.QueryRow(ctx, `select `+activityColumns+` from activities where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(a)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `delete from activities where tenant_id = $1 and id = $2`, tenantID, id); err != nil {
			return err
		}
		if err := writeTimeline(ctx, tx, tenantID, list); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
}

// List pages through a contact's or a company's activities, newest first.
func (r *Activities) List(ctx context.Context, tenantID uuid.UUID, q service.ActivityQuery, limit int) (as []*domain.Activity, err error) {
	w := where{args: []any{tenantID}}
	w.add("tenant_id = $1")
	if q.ContactID != uuid.Nil {
		w.add("contact_id = $?", q.ContactID)
	}
	if q.CompanyID != uuid.Nil {
		w.add("company_id = $?", q.CompanyID)
	}
	if !q.Viewer.All {
		// An activity about a contact is seen by those who see the contact.
		w.add("(contact_id is null or contact_id in (select id from contacts where tenant_id = $1 and " + w.visible(q.Viewer) + "))")
	}
	if q.After.ID != uuid.Nil {
		at, _ := time.Parse(time.RFC3339Nano, q.After.Value)
		w.add("(occurred_at, id) < ($?, $?)", at, q.After.ID)
	}
	sql := `select ` + activityColumns + ` from activities where ` + strings.Join(w.conds, " and ") +
		` order by occurred_at desc, id desc limit ` + w.arg(limit)
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanActivity(rows)
			if err != nil {
				return err
			}
			as = append(as, a)
		}
		return rows.Err()
	})
	return as, err
}

// insertTimeline files another service's entry: on the contact it names
// or, when that contact was merged (once or along a chain of merges), on
// the contact it lives on now; an erased or deleted contact gets nothing.
const insertTimeline = `insert into timeline (tenant_id, contact_id, at, id, type, source, actor, data)
	select $1, c.id, $3, $4, $5, $6, $7, $8 from contacts c
	where c.tenant_id = $1 and c.erased_at is null and c.id = coalesce((
		with recursive chain (target_id, depth) as (
			select target_id, 1 from merges where tenant_id = $1 and source_id = $2
			union all
			select m.target_id, ch.depth + 1 from merges m join chain ch on m.tenant_id = $1 and m.source_id = ch.target_id
			where ch.depth < 100)
		select target_id from chain order by depth desc limit 1), $2)
	for share of c
	on conflict do nothing`

// insertOwnTimeline files an entry written with its contact's own change:
// the transaction holds the contact (and checked it is live), so neither
// the check nor its row lock is needed, and the entry's id is its new
// event's (or new activity's), so no ON CONFLICT either: its speculative
// insertion cost 3% of the database's time on POST /v1/contacts.
const insertOwnTimeline = `insert into timeline (tenant_id, contact_id, at, id, type, source, actor, data)
	values ($1, $2, $3, $4, $5, $6, $7, $8)`

const deleteTimeline = `delete from timeline where tenant_id = $1 and id = $2`

// AddTimeline files entries in their contacts' timelines inside a
// consumer's transaction. An entry of a contact that no longer exists, or
// whose data was erased (an event still in flight when it was), is dropped;
// one already filed (a redelivered event) is kept as it was.
func AddTimeline(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, entries ...domain.TimelineEntry) error {
	for _, e := range entries {
		tag, err := tx.Exec(ctx, insertTimeline, tenantID, e.ContactID, e.At, e.ID, e.Type, e.Source, e.Actor, e.Data)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// A merge that committed while the insert waited for the row
			// lock removed the contact it had found; a new statement, with
			// a new snapshot, follows the merge to its target.
			if _, err := tx.Exec(ctx, insertTimeline, tenantID, e.ContactID, e.At, e.ID, e.Type, e.Source, e.Actor, e.Data); err != nil {
				return err
			}
		}
	}
	return nil
}

// RemoveTimeline takes an entry (a deleted activity) out of every timeline.
func RemoveTimeline(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) error {
	_, err := tx.Exec(ctx, deleteTimeline, tenantID, id)
	return err
}

// The service's own events change the timeline in the transaction that
// writes them: a contact's history is never behind its record, and the
// timeline consumer only reads other services' events.

// timelineOf collects what the service's own events do to the timeline.
func timelineOf(evs []events.Event) ([]service.TimelineChange, error) {
	out := make([]service.TimelineChange, 0, len(evs))
	for _, ev := range evs {
		ch, err := service.TimelineOf(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// queueTimeline queues those changes in a pipelined write.
func queueTimeline(b *pgx.Batch, tenantID uuid.UUID, evs []events.Event) error {
	chs, err := timelineOf(evs)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		if ch.Remove != uuid.Nil {
			b.Queue(deleteTimeline, tenantID, ch.Remove)
		}
		for _, e := range ch.Add {
			b.Queue(insertOwnTimeline, tenantID, e.ContactID, e.At, e.ID, e.Type, e.Source, e.Actor, e.Data)
		}
	}
	return nil
}

// writeTimeline makes those changes in a transaction.
func writeTimeline(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, evs []events.Event) error {
	chs, err := timelineOf(evs)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		if ch.Remove != uuid.Nil {
			if err := RemoveTimeline(ctx, tx, tenantID, ch.Remove); err != nil {
				return err
			}
		}
		for _, e := range ch.Add {
			if _, err := tx.Exec(ctx, insertOwnTimeline, tenantID, e.ContactID, e.At, e.ID, e.Type, e.Source, e.Actor, e.Data); err != nil {
				return err
			}
		}
	}
	return nil
}

// Timeline pages through a contact's timeline, newest first.
func (r *Activities) Timeline(ctx context.Context, tenantID, contactID uuid.UUID, after service.Cursor, limit int) (es []domain.TimelineEntry, err error) {
	w := where{args: []any{tenantID, contactID}}
	w.add("tenant_id = $1 and contact_id = $2")
	if after.ID != uuid.Nil {
		at, _ := time.Parse(time.RFC3339Nano, after.Value)
		w.add("(at, id) < ($?, $?)", at, after.ID)
	}
	sql := `select ` + entryColumns + ` from timeline where ` + strings.Join(w.conds, " and ") +
		` order by at desc, id desc limit ` + w.arg(limit)
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, w.args...)
		if err != nil {
			return err
		}
		es, err = pgx.CollectRows(rows, scanEntry)
		return err
	})
	return es, err
}

// Held returns everything the service holds about a contact besides its
// record: its activities and its timeline, oldest first, in one snapshot.
func (r *Activities) Held(ctx context.Context, tenantID, contactID uuid.UUID) (as []*domain.Activity, es []domain.TimelineEntry, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+activityColumns+` from activities where tenant_id = $1 and contact_id = $2
			order by occurred_at, id`, tenantID, contactID)
		if err != nil {
			return err
		}
		if as, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Activity, error) { return scanActivity(row) }); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `select `+entryColumns+` from timeline
			where tenant_id = $1 and contact_id = $2 order by at, id`, tenantID, contactID)
		if err != nil {
			return err
		}
		es, err = pgx.CollectRows(rows, scanEntry)
		return err
	})
	return as, es, err
}

const entryColumns = `id, contact_id, at, type, source, actor, data`

func scanEntry(row pgx.CollectableRow) (domain.TimelineEntry, error) {
	var e domain.TimelineEntry
	err := row.Scan(&e.ID, &e.ContactID, &e.At, &e.Type, &e.Source, &e.Actor, &e.Data)
	return e, err
}
