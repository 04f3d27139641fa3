package store

import (
	"context"
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

// Directory reads the projection of contacts, companies and deals.
type Directory struct{ pool *pgxpool.Pool }

// NewDirectory reads the projection in pool's database.
func NewDirectory(pool *pgxpool.Pool) *Directory { return &Directory{pool: pool} }

var _ service.Directory = (*Directory)(nil)

// Known reads the rows of l's records, and a deal's contact's time zone,
// in one statement.
func (d *Directory) Known(ctx context.Context, tenant uuid.UUID, l domain.Links) (service.KnownLinks, error) {
	var out service.KnownLinks
	err := postgres.InTenant(ctx, d.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			select 'contact', id, time_zone, owner_id, team, shared_users, shared_teams, deleted, null::uuid, null::uuid, '', version
			  from known_contacts where tenant_id = $1 and id = $2
			union all
			select 'company', id, '', '', '', null, null, deleted, null, null, '', version
			  from known_companies where tenant_id = $1 and id = $3
			union all
			select 'deal', d.id, coalesce(c.time_zone, ''), d.owner_id, d.team, null, null, d.deleted, d.contact_id, d.company_id, d.status, d.version
			  from known_deals d left join known_contacts c on c.tenant_id = d.tenant_id and c.id = d.contact_id
			 where d.tenant_id = $1 and d.id = $4`, tenant, l.Contact, l.Company, l.Deal)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var what string
			var k service.Known
			var users, teams []string
			var contact, company *uuid.UUID
			if err := rows.Scan(&what, &k.ID, &k.TimeZone, &k.OwnerID, &k.Team, &users, &teams, &k.Deleted, &contact, &company,
				&k.Status, &k.Version); err != nil {
				return err
			}
			k.ContactID, k.CompanyID = ids.Of(contact), ids.Of(company)
			switch what {
			case "contact":
				k.Access = &access.Record{Owner: k.OwnerID, Team: k.Team, SharedUsers: users, SharedTeams: teams}
				out.Contact = &k
			case "company":
				k.Access = &access.Record{Everyone: true}
				out.Company = &k
			case "deal":
				k.Access = &access.Record{Owner: k.OwnerID, Team: k.Team}
				out.Deal = &k
			}
		}
		return rows.Err()
	})
	return out, err
}

// Projection keeps the projection in a consumer's transaction.
type Projection struct {
	tx     pgx.Tx
	tenant uuid.UUID
	timers TimerQueue
}

// ProjectionOf is the projection of tenant in tx (scoped to that tenant);
// the tasks it plans have their due-time events scheduled on timers.
func ProjectionOf(tx pgx.Tx, tenant uuid.UUID, timers TimerQueue) *Projection {
	return &Projection{tx: tx, tenant: tenant, timers: timers}
}

var _ service.Projection = (*Projection)(nil)

// UpsertContacts stores contacts, each replacing only an older version.
func (p *Projection) UpsertContacts(ctx context.Context, ks ...service.Known) error {
	b := &pgx.Batch{}
	for _, k := range ks {
		a := k.Access
		if a == nil {
			a = &access.Record{}
		}
		b.Queue(`insert into known_contacts (tenant_id, id, time_zone, owner_id, team, shared_users, shared_teams, deleted, version)
			values ($1, $2, $3, $4, $5, $6, $7, false, $8)
			on conflict (tenant_id, id) do update set time_zone = excluded.time_zone, owner_id = excluded.owner_id,
				team = excluded.team, shared_users = excluded.shared_users, shared_teams = excluded.shared_teams,
				deleted = false, merged_into = null, version = excluded.version
			where known_contacts.version < excluded.version`,
			p.tenant, k.ID, k.TimeZone, a.Owner, a.Team, nonNil(a.SharedUsers), nonNil(a.SharedTeams), k.Version)
	}
	return p.tx.SendBatch(ctx, b).Close()
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// MarkContacts marks contacts deleted, or merged into another; a newer
// version (an unmerge restores one) brings one back.
func (p *Projection) MarkContacts(ctx context.Context, contacts []uuid.UUID, mergedInto uuid.UUID) error {
	_, err := p.tx.Exec(ctx, `insert into known_contacts (tenant_id, id, time_zone, owner_id, team, shared_users, shared_teams, deleted, merged_into, version)
		select $1, id, '', '', '', '{}', '{}', true, $3, 0 from unnest($2::uuid[]) as id
		on conflict (tenant_id, id) do update set deleted = true, merged_into = excluded.merged_into`,
		p.tenant, contacts, ids.Ptr(mergedInto))
	return err
}

// UpsertCompanies stores companies, each replacing only an older version.
func (p *Projection) UpsertCompanies(ctx context.Context, ks ...service.Known) error {
	b := &pgx.Batch{}
	for _, k := range ks {
		b.Queue(`insert into known_companies (tenant_id, id, deleted, version) values ($1, $2, false, $3)
			on conflict (tenant_id, id) do update set deleted = false, version = excluded.version
			where known_companies.version < excluded.version`, p.tenant, k.ID, k.Version)
	}
	return p.tx.SendBatch(ctx, b).Close()
}

// MarkCompaniesDeleted marks companies deleted for good.
func (p *Projection) MarkCompaniesDeleted(ctx context.Context, ids ...uuid.UUID) error {
	_, err := p.tx.Exec(ctx, `insert into known_companies (tenant_id, id, deleted, version)
		select $1, id, true, 0 from unnest($2::uuid[]) as id
		on conflict (tenant_id, id) do update set deleted = true`, p.tenant, ids)
	return err
}

// UpsertDeal stores a deal, replacing only an older version; a deletion
// replaces any.
func (p *Projection) UpsertDeal(ctx context.Context, k service.Known) error {
	_, err := p.tx.Exec(ctx, `insert into known_deals (tenant_id, id, contact_id, company_id, owner_id, team, status, deleted, version)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		on conflict (tenant_id, id) do update set contact_id = excluded.contact_id, company_id = excluded.company_id,
			owner_id = excluded.owner_id, team = excluded.team, status = excluded.status, deleted = excluded.deleted,
			version = excluded.version
		where known_deals.version < excluded.version or (excluded.deleted and not known_deals.deleted)`,
		p.tenant, k.ID, ids.Ptr(k.ContactID), ids.Ptr(k.CompanyID), k.OwnerID, k.Team, k.Status, k.Deleted, k.Version)
	if err != nil || k.Deleted {
		return err
	}
	// The deal's contact may have changed: its tasks' client time with it.
	_, err = p.tx.Exec(ctx, `update tasks t set client_time_zone = coalesce(c.time_zone, '')
		from known_deals d left join known_contacts c on c.tenant_id = d.tenant_id and c.id = d.contact_id
		where t.tenant_id = $1 and t.deal_id = $2 and t.contact_id is null and t.status = 'open'
		  and d.tenant_id = $1 and d.id = $2 and t.client_time_zone <> coalesce(c.time_zone, '')`, p.tenant, k.ID)
	return err
}

// RetimeTasks sets the client time zone of a contact's open tasks, and of
// its deals' tasks that name no contact.
func (p *Projection) RetimeTasks(ctx context.Context, contact uuid.UUID) error {
	_, err := p.tx.Exec(ctx, `update tasks t set client_time_zone = c.time_zone
		from known_contacts c
		where c.tenant_id = $1 and c.id = $2 and t.tenant_id = $1 and t.status = 'open'
		  and t.client_time_zone <> c.time_zone
		  and (t.contact_id = $2 or (t.contact_id is null and t.deal_id in
		       (select id from known_deals where tenant_id = $1 and contact_id = $2)))`, p.tenant, contact)
	return err
}

// RelinkTasks moves the tasks of the from contacts to the to contact,
// remembering where each came from.
func (p *Projection) RelinkTasks(ctx context.Context, from []uuid.UUID, to uuid.UUID, now time.Time) ([]*domain.Task, error) {
	if _, err := p.tx.Exec(ctx, `insert into task_relinks (tenant_id, task_id, from_contact, to_contact)
		select tenant_id, id, contact_id, $3 from tasks where tenant_id = $1 and contact_id = any($2)
		on conflict (tenant_id, task_id) do update set from_contact = excluded.from_contact, to_contact = excluded.to_contact`,
		p.tenant, from, to); err != nil {
		return nil, err
	}
	rows, err := p.tx.Query(ctx, `update tasks set contact_id = $3, version = version + 1, updated_at = $4
		where tenant_id = $1 and contact_id = any($2) returning `+taskCols, p.tenant, from, to, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) { return scanTask(row) })
}

// UnlinkTasks gives the restored contacts back the tasks a merge moved to
// target (those still about target), and forgets where they came from.
func (p *Projection) UnlinkTasks(ctx context.Context, target uuid.UUID, restored []uuid.UUID, now time.Time) ([]*domain.Task, error) {
	rows, err := p.tx.Query(ctx, `with back as (
			delete from task_relinks where tenant_id = $1 and to_contact = $2 and from_contact = any($3)
			returning task_id, from_contact)
		update tasks set contact_id = back.from_contact, version = version + 1, updated_at = $4
		from back where tenant_id = $1 and id = back.task_id and contact_id = $2
		returning `+taskCols, p.tenant, target, restored, now) // back's columns are no task's: the names are the task's
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) { return scanTask(row) })
}

// RestoreContacts brings back contacts an unmerge restored, as they were:
// their version is the one they had when merged.
func (p *Projection) RestoreContacts(ctx context.Context, ks ...service.Known) error {
	b := &pgx.Batch{}
	for _, k := range ks {
		a := k.Access
		if a == nil {
			a = &access.Record{}
		}
		b.Queue(`update known_contacts set time_zone = $3, owner_id = $4, team = $5, shared_users = $6, shared_teams = $7,
				deleted = false, merged_into = null, version = greatest(version, $8)
			where tenant_id = $1 and id = $2`,
			p.tenant, k.ID, k.TimeZone, a.Owner, a.Team, nonNil(a.SharedUsers), nonNil(a.SharedTeams), k.Version)
	}
	return p.tx.SendBatch(ctx, b).Close()
}

// Publish stores events in the outbox.
func (p *Projection) Publish(ctx context.Context, evs ...events.Event) error {
	return events.Append(ctx, p.tx, evs...)
}

// Deal locks the deal's tasks until the transaction ends and reads its
// status and how many open tasks it has besides except.
func (p *Projection) Deal(ctx context.Context, deal, except uuid.UUID) (string, int, error) {
	return lockDeal(ctx, p.tx, p.tenant, deal, except)
}

// OpenTasksOfDeal locks and reads the deal's open tasks.
func (p *Projection) OpenTasksOfDeal(ctx context.Context, deal uuid.UUID) ([]*domain.Task, error) {
	rows, err := p.tx.Query(ctx, `select `+taskCols+` from tasks where tenant_id = $1 and deal_id = $2 and status = 'open'
		order by id for update`, p.tenant, deal)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) { return scanTask(row) })
}

// Planning reads the settings and the calendars of users and the default.
func (p *Projection) Planning(ctx context.Context, users ...string) (service.PlanContext, error) {
	return readPlanning(ctx, p.tx, p.tenant, "", users)
}

// ContactZone is a contact's time zone ("" unknown).
func (p *Projection) ContactZone(ctx context.Context, contact uuid.UUID) (string, error) {
	var zone string
	err := p.tx.QueryRow(ctx, `select coalesce((select time_zone from known_contacts where tenant_id = $1 and id = $2), '')`,
		p.tenant, contact).Scan(&zone)
	return zone, err
}

// Save inserts the created tasks and stores the changed ones.
func (p *Projection) Save(ctx context.Context, created, changed []*domain.Task) error {
	b := &pgx.Batch{}
	var timers []Timer
	for _, t := range created {
		queueInsert(b, t)
		timers = append(timers, timersOf(nil, t)...)
	}
	for _, t := range changed {
		queueUpdate(b, t)
	}
	if err := p.tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return schedule(ctx, p.timers, p.tx, p.tenant, timers)
}
