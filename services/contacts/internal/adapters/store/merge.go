package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Merges live in the merges table (migration 00009): one row per contact
// merged into another, holding its contacts row as it was (to_jsonb, every
// column), what it gave the target, and the activities and timeline entries
// it handed over. Unmerge inserts the row back from it.

// contributionJSON is a domain.Contribution as merges.contribution holds it.
type contributionJSON struct {
	Emails          []string       `json:"emails,omitempty"`
	Phones          []string       `json:"phones,omitempty"`
	Tags            []string       `json:"tags,omitempty"`
	SharedWithUsers []string       `json:"shared_with_users,omitempty"`
	SharedWithTeams []string       `json:"shared_with_teams,omitempty"`
	Filled          filledJSON     `json:"filled"`
	Custom          map[string]any `json:"custom,omitempty"`
}

type filledJSON struct {
	FirstName string       `json:"first_name,omitempty"`
	LastName  string       `json:"last_name,omitempty"`
	Position  string       `json:"position,omitempty"`
	Source    string       `json:"source,omitempty"`
	Timezone  string       `json:"timezone,omitempty"`
	Birthday  string       `json:"birthday,omitempty"`
	Team      string       `json:"team,omitempty"`
	CompanyID *uuid.UUID   `json:"company_id,omitempty"`
	Address   *addressJSON `json:"address,omitempty"`
}

func contributionOf(g domain.Contribution) contributionJSON {
	f := g.Filled
	out := contributionJSON{Emails: g.Emails, Phones: g.Phones, Tags: g.Tags, SharedWithUsers: g.SharedWithUsers,
		SharedWithTeams: g.SharedWithTeams, Custom: g.Custom,
		Filled: filledJSON{FirstName: f.FirstName, LastName: f.LastName, Position: f.Position, Source: f.Source,
			Timezone: f.Timezone, Birthday: f.Birthday, Team: f.Team, CompanyID: ids.Ptr(f.CompanyID)}}
	if !f.Address.IsZero() {
		a := addressJSON(f.Address)
		out.Filled.Address = &a
	}
	return out
}

func (j contributionJSON) contribution() domain.Contribution {
	f := j.Filled
	g := domain.Contribution{Emails: j.Emails, Phones: j.Phones, Tags: j.Tags, SharedWithUsers: j.SharedWithUsers,
		SharedWithTeams: j.SharedWithTeams, Custom: j.Custom,
		Filled: domain.Fields{FirstName: f.FirstName, LastName: f.LastName, Position: f.Position, Source: f.Source,
			Timezone: f.Timezone, Birthday: f.Birthday, Team: f.Team}}
	if f.CompanyID != nil {
		g.Filled.CompanyID = *f.CompanyID
	}
	if f.Address != nil {
		g.Filled.Address = domain.Address(*f.Address)
	}
	return g
}

// mergeSource records source $2 as it is, merged into $3, and hands its
// activities and timeline entries over to $3: an entry the target already
// has (one event filed for both) is kept in the record instead, since a
// timeline holds an entry once. The caller deletes the source afterwards.
const mergeSource = `with acts as (
		update activities set contact_id = $3 where tenant_id = $1 and contact_id = $2 returning id
	), moved as (
		update timeline t set contact_id = $3 where t.tenant_id = $1 and t.contact_id = $2
			and not exists (select 1 from timeline o where o.tenant_id = $1 and o.contact_id = $3 and o.id = t.id)
		returning t.id
	), kept as (
		delete from timeline t where t.tenant_id = $1 and t.contact_id = $2 and t.id not in (select id from moved)
		returning t.*
	)
	insert into merges (tenant_id, source_id, target_id, merge_id, merged_at, actor, contact, contribution,
		activities, timeline, timeline_kept)
	select $1::uuid, c.id, $3::uuid, $4::uuid, $5::timestamptz, $6::text, to_jsonb(c), $7::jsonb,
		array(select id from acts), array(select id from moved),
		coalesce((select jsonb_agg(to_jsonb(k)) from kept k), '[]')
	from contacts c where c.tenant_id = $1 and c.id = $2`

func (r *Contacts) Merge(ctx context.Context, tenantID, target uuid.UUID, sources []uuid.UUID, fn func(*domain.Contact, []*domain.Contact) (service.MergeChange, error)) (c *domain.Contact, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		// Locked in id order, like every merge, so two merges never deadlock.
		rows, err := tx.Query(ctx, `select `+contactColumns+` from contacts where tenant_id = $1 and id = any($2) order by id for update`,
			tenantID, append([]uuid.UUID{target}, sources...))
		if err != nil {
			return err
		}
		found, err := collectContacts(rows)
		if err != nil {
			return err
		}
		byID := make(map[uuid.UUID]*domain.Contact, len(found))
		for _, f := range found {
			byID[f.ID()] = f
		}
		if c = byID[target]; c == nil {
			return domain.ErrContactNotFound
		}
		srcs := make([]*domain.Contact, len(sources))
		for i, id := range sources {
			if srcs[i] = byID[id]; srcs[i] == nil {
				return domain.ErrContactMissing(id)
			}
		}
		before := c.Keys()
		ch, err := fn(c, srcs)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		// The target takes over the sources' channel keys: no duplicate
		// check, the keys are the merged contacts' own.
		queueKeys(b, tenantID, target, before, c.Keys(), false)
		queueUpdateContact(b, c)
		for i, s := range srcs {
			b.Queue(mergeSource, tenantID, s.ID(), target, ch.MergeID, ch.At, ch.Actor, contributionOf(ch.Contributions[i]))
		}
		b.Queue(`delete from contact_keys where tenant_id = $1 and contact_id = any($2)`, tenantID, sources)
		b.Queue(`delete from contacts where tenant_id = $1 and id = any($2)`, tenantID, sources)
		if err := queueTimeline(b, tenantID, ch.Events); err != nil {
			return err
		}
		if err := events.QueueAppend(ctx, b, ch.Events...); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return c, translate(err)
}

// queueUpdateContact queues the write of a changed contact's row.
func queueUpdateContact(b *pgx.Batch, c *domain.Contact) {
	b.Queue(updateContact, append(withoutCreatedAt(contactValues(c)), c.SearchText(), c.SortName(), erasedAt(c),
		c.Fields().Team, c.Shares(), customValue(c.Fields().Custom))...)
}

// merged is a row of merges, read for an unmerge.
type merged struct {
	service.MergedContact
	// snapshot is the contacts row to insert back: every column as it was,
	// but company_id null when the company was deleted since.
	snapshot   json.RawMessage
	activities []uuid.UUID
	timeline   []uuid.UUID
	kept       json.RawMessage
}

// readMerged reads (and locks) what is merged into target, oldest first.
// The contacts come as they were, through the same columns as a live one.
const readMerged = `select ` + contactColumns + `, merged_at_, contribution_, activities_, timeline_, kept_, snapshot_ from (
		select r.*, m.merged_at as merged_at_, m.contribution as contribution_, m.activities as activities_,
			m.timeline as timeline_, m.timeline_kept as kept_, s.snapshot as snapshot_
		from merges m
		cross join lateral (select m.contact || jsonb_build_object('company_id', (select co.id from companies co
			where co.tenant_id = m.tenant_id and co.id = (m.contact->>'company_id')::uuid)) as snapshot) s
		cross join lateral jsonb_populate_record(null::contacts, s.snapshot) r
		where m.tenant_id = $1 and m.target_id = $2
		for update of m
	) x order by merged_at_, id`

func (r *Contacts) Unmerge(ctx context.Context, tenantID, target uuid.UUID, contactsQuota int64, fn func(*domain.Contact, []service.MergedContact) (service.UnmergeChange, error)) (c *domain.Contact, restored []*domain.Contact, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err = scanContact(tx.QueryRow(ctx, `select `+contactColumns+` from contacts where tenant_id = $1 and id = $2 for update`, tenantID, target))
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, readMerged, tenantID, target)
		if err != nil {
			return err
		}
		all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (m merged, err error) {
			var cr contactRow
			var contrib contributionJSON
			if err := row.Scan(append(cr.dest(), &m.MergedAt, &contrib, &m.activities, &m.timeline, &m.kept, &m.snapshot)...); err != nil {
				return m, err
			}
			m.Contact, m.Contribution = cr.contact(), contrib.contribution()
			return m, nil
		})
		if err != nil {
			return err
		}
		list := make([]service.MergedContact, len(all))
		byID := make(map[uuid.UUID]merged, len(all))
		for i, m := range all {
			list[i], byID[m.Contact.ID()] = m.MergedContact, m
		}
		before, version := c.Keys(), c.Version()
		ch, err := fn(c, list)
		if err != nil {
			return err
		}
		cols, err := restorableColumns(ctx, tx)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, id := range ch.Restore {
			m := byID[id]
			stmt, err := restoreContact(cols, m.snapshot)
			if err != nil {
				return err
			}
			b.Queue(stmt, m.snapshot)
			// Keys go back unchecked: the contact had them before the merge.
			queueKeys(b, tenantID, id, nil, m.Contact.Keys(), false)
			b.Queue(`update activities set contact_id = $2 where tenant_id = $1 and contact_id = $3 and id = any($4)`,
				tenantID, id, target, m.activities)
			b.Queue(`update timeline set contact_id = $2 where tenant_id = $1 and contact_id = $3 and id = any($4)`,
				tenantID, id, target, m.timeline)
			b.Queue(`insert into timeline select * from jsonb_populate_recordset(null::timeline, $1) on conflict do nothing`, m.kept)
			b.Queue(`delete from merges where tenant_id = $1 and source_id = $2`, tenantID, id)
			restored = append(restored, m.Contact)
		}
		for id, g := range ch.Contributions {
			b.Queue(`update merges set contribution = $3 where tenant_id = $1 and source_id = $2`, tenantID, id, contributionOf(g))
		}
		queueKeys(b, tenantID, target, before, c.Keys(), false)
		if c.Version() != version {
			queueUpdateContact(b, c)
		}
		if err := queueTimeline(b, tenantID, ch.Events); err != nil {
			return err
		}
		if err := events.QueueAppend(ctx, b, ch.Events...); err != nil {
			return err
		}
		if contactsQuota > 0 && len(ch.Restore) > 0 {
			// The restored contacts count again (see checkQuota).
			queueQuotaCheck(b, tenantID, contactsQuota, int64(len(ch.Restore)), false)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return c, restored, translate(err)
}

// restorableColumns are the columns of contacts a row can be inserted
// with: all but the generated ones.
func restorableColumns(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `select attname::text from pg_attribute
		where attrelid = 'contacts'::regclass and attnum > 0 and not attisdropped and attgenerated = '' order by attnum`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// restoreContact is the insert of a recorded contacts row: the columns it
// recorded get their values back; a column added since it was recorded
// gets its default.
func restoreContact(cols []string, snapshot json.RawMessage) (string, error) {
	var recorded map[string]json.RawMessage
	if err := json.Unmarshal(snapshot, &recorded); err != nil {
		return "", err
	}
	var names []string
	for _, c := range cols {
		if _, ok := recorded[c]; ok {
			names = append(names, pgx.Identifier{c}.Sanitize())
		}
	}
	list := strings.Join(names, ", ")
	return `insert into contacts (` + list + `) select ` + list + ` from jsonb_populate_record(null::contacts, $1)`, nil
}

// MergedInto follows id's merges (a contact merged into one that was merged
// in turn) to the last contact.
func (r *Contacts) MergedInto(ctx context.Context, tenantID, id uuid.UUID) (into uuid.UUID, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `with recursive chain (target_id, depth) as (
				select target_id, 1 from merges where tenant_id = $1 and source_id = $2
				union all
				select m.target_id, c.depth + 1 from merges m join chain c on m.tenant_id = $1 and m.source_id = c.target_id
				where c.depth < 100
			)
			select target_id from chain order by depth desc limit 1`, tenantID, id).Scan(&into)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return into, err
}

// MergedRecords reads the records merged into target, along chains.
func (r *Contacts) MergedRecords(ctx context.Context, tenantID, target uuid.UUID) (out []json.RawMessage, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `with recursive held (source_id, depth) as (
				select source_id, 1 from merges where tenant_id = $1 and target_id = $2
				union all
				select m.source_id, h.depth + 1 from merges m join held h on m.tenant_id = $1 and m.target_id = h.source_id
				where h.depth < 100)
			select jsonb_build_object('contact_id', m.source_id, 'merged_at', m.merged_at, 'record', m.contact)
			from merges m join held h on m.tenant_id = $1 and m.source_id = h.source_id
			order by m.merged_at, m.source_id`, tenantID, target)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
		return err
	})
	return out, err
}
