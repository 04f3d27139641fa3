package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/pkg/ids"

	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// ProjectionOf is the projection over a transaction someone else scoped
// to tenant (a consumer's, whose inbox row commits with the effect).
func ProjectionOf(tx pgx.Tx, tenant uuid.UUID) service.Projection {
	return &repo{tx: tx, tenant: tenant}
}

const contactCols = `id, company_id, name, deleted, erased, merged_into, version,
	owner_id, team, shared_users, shared_teams, visibility_known`

// companyCols are a company's as a party's: companies have no visibility of their own.
const companyCols = `id, null::uuid, name, deleted, false, null::uuid, version, '', '', '{}'::text[], '{}'::text[], false`

func scanParty(row pgx.Row) (service.Party, error) {
	var p service.Party
	var company, merged *uuid.UUID
	var rec access.Record
	var known bool
	err := row.Scan(&p.ID, &company, &p.Name, &p.Deleted, &p.Erased, &merged, &p.Version,
		&rec.Owner, &rec.Team, &rec.SharedUsers, &rec.SharedTeams, &known)
	p.CompanyID, p.MergedInto = ids.Of(company), ids.Of(merged)
	if known {
		p.Access = &rec
	}
	return p, err
}

func (r *repo) Contact(ctx context.Context, id uuid.UUID) (service.Party, bool, error) {
	p, err := scanParty(r.tx.QueryRow(ctx, `select `+contactCols+` from contacts where tenant_id = $1 and id = $2`, r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	return p, err == nil, err
}

func (r *repo) References(ctx context.Context, contacts, companies []uuid.UUID) (service.Held, error) {
	held := service.Held{Contacts: map[uuid.UUID]service.Party{}, Companies: map[uuid.UUID]service.Party{}}
	b := &pgx.Batch{}
	into := func(m map[uuid.UUID]service.Party) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
				p, err := scanParty(row)
				m[p.ID] = p
				return struct{}{}, err
			})
			return err
		}
	}
	if len(contacts) > 0 {
		b.Queue(`select `+contactCols+` from contacts where tenant_id = $1 and (id = any($2)
			or id in (select merged_into from contacts where tenant_id = $1 and id = any($2)))`, r.tenant, contacts).
			Query(into(held.Contacts))
	}
	if len(companies) > 0 {
		b.Queue(`select `+companyCols+` from companies where tenant_id = $1 and id = any($2)`, r.tenant, companies).
			Query(into(held.Companies))
	}
	return held, r.tx.SendBatch(ctx, b).Close()
}

func jsonText(ss []string) string {
	b, _ := json.Marshal(ss) // strings always marshal
	return string(b)
}

// accessColumns is a party's access columns; an unknown one is stored as
// unknown, so a later write asks the contacts service again.
func accessColumns(p service.Party) (owner, team string, users, teams []string, known bool) {
	if p.Access == nil {
		return "", "", []string{}, []string{}, false
	}
	users, teams = p.Access.SharedUsers, p.Access.SharedTeams
	if users == nil {
		users = []string{}
	}
	if teams == nil {
		teams = []string{}
	}
	return p.Access.Owner, p.Access.Team, users, teams, true
}

// UpsertContacts stores each contact unless a newer version is held. A
// deleted or merged contact stays so (an update of a merged contact may
// arrive after the merge, which travels under the target's key); only
// RestoreContacts brings one back. An erased person stays nameless.
func (r *repo) UpsertContacts(ctx context.Context, ps ...service.Party) error {
	ids, companies, names, versions := make([]uuid.UUID, len(ps)), make([]*uuid.UUID, len(ps)), make([]string, len(ps)), make([]int64, len(ps))
	// Shares travel as JSON arrays: unnest cannot take arrays of arrays.
	owners, teams, users, shared, known := make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps)), make([]bool, len(ps))
	for i, p := range ps {
		ids[i], names[i], versions[i] = p.ID, p.Name, p.Version
		if p.CompanyID != uuid.Nil {
			c := p.CompanyID
			companies[i] = &c
		}
		var u, t []string
		owners[i], teams[i], u, t, known[i] = accessColumns(p)
		users[i], shared[i] = jsonText(u), jsonText(t)
	}
	_, err := r.tx.Exec(ctx, `insert into contacts as c (tenant_id, id, company_id, name, version,
			owner_id, team, shared_users, shared_teams, visibility_known)
		select $1, id, company, name, version, owner, team,
			array(select jsonb_array_elements_text(users::jsonb)), array(select jsonb_array_elements_text(teams::jsonb)), known
		from unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bool[])
			as u(id, company, name, version, owner, team, users, teams, known)
		on conflict (tenant_id, id) do update set company_id = excluded.company_id,
			name = case when c.erased then '' else excluded.name end, version = excluded.version,
			owner_id = excluded.owner_id, team = excluded.team, shared_users = excluded.shared_users,
			shared_teams = excluded.shared_teams, visibility_known = excluded.visibility_known
		where c.version <= excluded.version`, r.tenant, ids, companies, names, versions, owners, teams, users, shared, known)
	return err
}

func (r *repo) UpsertCompanies(ctx context.Context, ps ...service.Party) error {
	ids, names, versions := make([]uuid.UUID, len(ps)), make([]string, len(ps)), make([]int64, len(ps))
	for i, p := range ps {
		ids[i], names[i], versions[i] = p.ID, p.Name, p.Version
	}
	_, err := r.tx.Exec(ctx, `insert into companies as c (tenant_id, id, name, version)
		select $1, * from unnest($2::uuid[], $3::text[], $4::bigint[])
		on conflict (tenant_id, id) do update set name = excluded.name, deleted = false, version = excluded.version
		where c.version <= excluded.version`, r.tenant, ids, names, versions)
	return err
}

func (r *repo) UpdateKnownContacts(ctx context.Context, p service.Party) error {
	owner, team, users, teams, known := accessColumns(p)
	_, err := r.tx.Exec(ctx, `update contacts set company_id = $3, name = case when erased then '' else $4 end, version = $5,
			owner_id = $6, team = $7, shared_users = $8, shared_teams = $9, visibility_known = $10
		where tenant_id = $1 and id = $2 and version <= $5`, r.tenant, p.ID, ids.Ptr(p.CompanyID), p.Name, p.Version,
		owner, team, users, teams, known)
	return err
}

func (r *repo) UpdateKnownCompanies(ctx context.Context, p service.Party) error {
	_, err := r.tx.Exec(ctx, `update companies set name = $3, version = $4 where tenant_id = $1 and id = $2 and version <= $4`,
		r.tenant, p.ID, p.Name, p.Version)
	return err
}

// RestoreContacts brings contacts back (an unmerge restored them).
func (r *repo) RestoreContacts(ctx context.Context, ids []uuid.UUID) error {
	_, err := r.tx.Exec(ctx, `update contacts set deleted = false, merged_into = null where tenant_id = $1 and id = any($2)`, r.tenant, ids)
	return err
}

// MarkContacts records contacts as gone; a contact never seen before is
// recorded too, so a late deal cannot name it.
func (r *repo) MarkContacts(ctx context.Context, contacts []uuid.UUID, mergedInto uuid.UUID) error {
	_, err := r.tx.Exec(ctx, `insert into contacts as c (tenant_id, id, deleted, merged_into, version)
		select $1, id, true, $3, 0 from unnest($2::uuid[]) id
		on conflict (tenant_id, id) do update set deleted = true, merged_into = $3`, r.tenant, contacts, ids.Ptr(mergedInto))
	return err
}

func (r *repo) MarkCompanyDeleted(ctx context.Context, ids ...uuid.UUID) error {
	_, err := r.tx.Exec(ctx, `insert into companies as c (tenant_id, id, deleted, version)
		select $1, id, true, 0 from unnest($2::uuid[]) id
		on conflict (tenant_id, id) do update set deleted = true`, r.tenant, ids)
	return err
}

func (r *repo) EraseContact(ctx context.Context, ids ...uuid.UUID) error {
	_, err := r.tx.Exec(ctx, `insert into contacts as c (tenant_id, id, erased, version)
		select $1, id, true, 0 from unnest($2::uuid[]) id
		on conflict (tenant_id, id) do update set name = '', erased = true`, r.tenant, ids)
	return err
}

func (r *repo) RelinkDeals(ctx context.Context, from []uuid.UUID, to uuid.UUID, at time.Time) ([]uuid.UUID, error) {
	rows, err := r.tx.Query(ctx, `with moved as (
			update deals d set contact_id = $3, version = d.version + 1, updated_at = $4
			from (select id, contact_id from deals where tenant_id = $1 and contact_id = any($2) and contact_id <> $3 order by id for update) o
			where d.tenant_id = $1 and d.id = o.id
			returning d.id, o.contact_id as was),
		kept as (
			insert into relinks (tenant_id, deal_id, from_contact, to_contact)
			select $1, id, was, $3 from moved on conflict (tenant_id, deal_id, from_contact) do update set to_contact = excluded.to_contact)
		select id from moved order by id`, r.tenant, from, to, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

func (r *repo) UnlinkDeals(ctx context.Context, target uuid.UUID, restored []uuid.UUID, at time.Time) ([]uuid.UUID, error) {
	rows, err := r.tx.Query(ctx, `with back as (
			delete from relinks where tenant_id = $1 and to_contact = $2 and from_contact = any($3)
			returning deal_id, from_contact),
		moved as (
			update deals d set contact_id = b.from_contact, version = version + 1, updated_at = $4
			from back b where d.tenant_id = $1 and d.id = b.deal_id and d.contact_id = $2
			returning d.id)
		select id from moved order by id`, r.tenant, target, restored, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

func (r *repo) DealFields(ctx context.Context) ([]customfield.Def, error) {
	rows, err := r.tx.Query(ctx, `select key, label, type, required, options from fields where tenant_id = $1 order by key, id desc`, r.tenant)
	if err != nil {
		return nil, err
	}
	defs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (customfield.Def, error) {
		d := customfield.Def{Entity: catalog.EntityDeal}
		var opts []string
		err := row.Scan(&d.Key, &d.Label, &d.Type, &d.Required, &opts)
		for _, o := range opts {
			d.Options = append(d.Options, customfield.Option{Value: o, Label: o})
		}
		return d, err
	})
	// A key deleted and defined again may briefly have two rows (their
	// events travel under different keys): the newer one counts.
	return slices.CompactFunc(defs, func(a, b customfield.Def) bool { return a.Key == b.Key }), err
}

func (r *repo) UpsertField(ctx context.Context, f service.Field) error {
	opts := make([]string, len(f.Def.Options))
	for i, o := range f.Def.Options {
		opts[i] = o.Value
	}
	_, err := r.tx.Exec(ctx, `insert into fields as f (tenant_id, id, key, label, type, required, options, version)
		values ($1, $2, $3, $4, $5, $6, $7, $8)
		on conflict (tenant_id, id) do update set label = excluded.label, required = excluded.required, options = excluded.options,
			version = excluded.version
		where f.version <= excluded.version`, r.tenant, f.ID, f.Def.Key, f.Def.Label, f.Def.Type, f.Def.Required, opts, f.Version)
	return err
}

// DeleteField forgets a field and drops its values from every deal, as the
// contacts service does for its own entities (without new versions: the
// field, not the deal, changed).
func (r *repo) DeleteField(ctx context.Context, id uuid.UUID) error {
	_, err := r.tx.Exec(ctx, `with gone as (delete from fields where tenant_id = $1 and id = $2 returning key)
		update deals set custom = custom - gone.key from gone
		where deals.tenant_id = $1 and deals.custom ? gone.key
			and not exists (select 1 from fields f where f.tenant_id = $1 and f.key = gone.key and f.id <> $2)`, r.tenant, id)
	return err
}

func (r *repo) LeadSources(ctx context.Context) ([]string, bool, error) {
	var list []string
	err := r.tx.QueryRow(ctx, `select sources from lead_sources where tenant_id = $1`, r.tenant).Scan(&list)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	return list, err == nil, err
}

func (r *repo) SetLeadSources(ctx context.Context, sources []string) error {
	if sources == nil {
		sources = []string{}
	}
	_, err := r.tx.Exec(ctx, `insert into lead_sources (tenant_id, sources) values ($1, $2)
		on conflict (tenant_id) do update set sources = excluded.sources`, r.tenant, sources)
	return err
}

// TaskStepsOf keeps the tasks about deals in tx (scoped to tenant).
func TaskStepsOf(tx pgx.Tx, tenant uuid.UUID) service.TaskSteps { return &repo{tx: tx, tenant: tenant} }

// KeepTaskStep stores a task's newer version; a deleted task goes (its row
// stays, as deleted, so that an older event cannot bring it back).
func (r *repo) KeepTaskStep(ctx context.Context, s service.TaskStep) error {
	status := s.Status
	if s.Deleted {
		status = "deleted"
	}
	var due any
	if s.DueDate != "" {
		due = s.DueDate
	}
	_, err := r.tx.Exec(ctx, `insert into deal_tasks (tenant_id, task_id, deal_id, status, kind, due_at, due_date, version)
		values ($1, $2, $3, $4, $5, $6, $7, $8)
		on conflict (tenant_id, task_id) do update set deal_id = excluded.deal_id, status = excluded.status, kind = excluded.kind,
			due_at = excluded.due_at, due_date = excluded.due_date, version = excluded.version
		where deal_tasks.version < excluded.version or (excluded.status = 'deleted' and deal_tasks.status <> 'deleted')`,
		r.tenant, s.TaskID, ids.Ptr(s.DealID), status, s.Kind, s.DueAt, due, s.Version)
	return err
}
