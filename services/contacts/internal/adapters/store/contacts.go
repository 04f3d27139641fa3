// Package store stores the client base in PostgreSQL. Every method owns
// its transaction, scoped to the tenant for row-level security, and writes the
// events of a change to the outbox in that same transaction.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Contacts is the PostgreSQL repository of contacts.
type Contacts struct{ pool *pgxpool.Pool }

// NewContacts returns a repository over pool (connected as the app role).
func NewContacts(pool *pgxpool.Pool) *Contacts { return &Contacts{pool: pool} }

var _ service.Repository = (*Contacts)(nil)

// contactColumns are read in this order by contactRow.dest; writes list
// the first 19 (contactValues) and set erased_at only when erasing.
const contactColumns = `id, tenant_id, first_name, last_name, emails, phones, owner_id, tags, company_id, position,
	lifecycle_stage, source, timezone, timezone_derived, address, birthday, version, created_at, updated_at, erased_at,
	team, shares, custom, sort_name`

const contactWriteColumns = `id, tenant_id, first_name, last_name, emails, phones, owner_id, tags, company_id, position,
	lifecycle_stage, source, timezone, timezone_derived, address, birthday, version, created_at, updated_at`

// addressJSON is the stored form of an address.
type addressJSON struct {
	Country    string `json:"country,omitempty"`
	Region     string `json:"region,omitempty"`
	City       string `json:"city,omitempty"`
	Street     string `json:"street,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
}

// contactRow is a contact as the contacts table holds it.
type contactRow struct {
	id, tenant uuid.UUID
	f          domain.Fields
	company    *uuid.UUID
	tzDerived  bool
	address    *addressJSON
	birthday   *time.Time
	version    int64
	created    time.Time
	updated    time.Time
	erased     *time.Time
	shares     []string
	sortName   string
}

func (r *contactRow) dest() []any {
	return []any{&r.id, &r.tenant, &r.f.FirstName, &r.f.LastName, &r.f.Emails, &r.f.Phones, &r.f.OwnerID, &r.f.Tags,
		&r.company, &r.f.Position, &r.f.LifecycleStage, &r.f.Source, &r.f.Timezone, &r.tzDerived, &r.address,
		&r.birthday, &r.version, &r.created, &r.updated, &r.erased, &r.f.Team, &r.shares, &r.f.Custom, &r.sortName}
}

func (r *contactRow) contact() *domain.Contact {
	if r.company != nil {
		r.f.CompanyID = *r.company
	}
	if r.address != nil {
		r.f.Address = domain.Address(*r.address)
	}
	if r.birthday != nil {
		r.f.Birthday = r.birthday.Format(time.DateOnly)
	}
	for _, sh := range r.shares {
		if u, ok := strings.CutPrefix(sh, "user:"); ok {
			r.f.SharedWithUsers = append(r.f.SharedWithUsers, u)
		} else if t, ok := strings.CutPrefix(sh, "team:"); ok {
			r.f.SharedWithTeams = append(r.f.SharedWithTeams, t)
		}
	}
	var erased time.Time
	if r.erased != nil {
		erased = *r.erased
	}
	// Pages by name continue from the stored key, which rows written before
	// the service folded names may spell differently.
	return domain.UnmarshalContactFromDatabase(r.id, r.tenant, r.f, r.tzDerived, r.version, r.created, r.updated, erased).
		WithStoredSortName(r.sortName)
}

// values are the arguments of an insert or update, in contactColumns order.
func contactValues(c *domain.Contact) []any {
	f := c.Fields()
	var company *uuid.UUID
	if f.CompanyID != uuid.Nil {
		company = &f.CompanyID
	}
	var address *addressJSON
	if !f.Address.IsZero() {
		a := addressJSON(f.Address)
		address = &a
	}
	var birthday *time.Time
	if f.Birthday != "" {
		if d, err := time.Parse(time.DateOnly, f.Birthday); err == nil {
			birthday = &d
		}
	}
	return []any{c.ID(), c.TenantID(), f.FirstName, f.LastName, f.Emails, f.Phones, f.OwnerID, f.Tags, company,
		f.Position, f.LifecycleStage, f.Source, f.Timezone, c.TimezoneDerived(), address, birthday,
		c.Version(), c.CreatedAt(), c.UpdatedAt()}
}

func scanContact(row pgx.Row) (*domain.Contact, error) {
	var r contactRow
	if err := row.Scan(r.dest()...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, domain.ErrContactNotFound
		}
		return nil, err
	}
	return r.contact(), nil
}

func collectContacts(rows pgx.Rows) ([]*domain.Contact, error) {
	defer rows.Close()
	var out []*domain.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Writes also store the derived search text and sort name.
const insertContact = `insert into contacts (` + contactWriteColumns + `, search, sort_name, team, shares, custom)
	values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)`

const updateContact = `update contacts set first_name=$3, last_name=$4, emails=$5, phones=$6, owner_id=$7, tags=$8,
	company_id=$9, position=$10, lifecycle_stage=$11, source=$12, timezone=$13, timezone_derived=$14, address=$15,
	birthday=$16, version=$17, updated_at=$18, search=$19, sort_name=$20, erased_at=$21, team=$22, shares=$23, custom=$24 where tenant_id=$2 and id=$1`

// Channel keys ("email:…", "phone:…") index a tenant's contacts by channel.
// A write claims the keys its contact gains and drops those it loses, as
// plain statements queued in the write's pipeline (queueKeys). The keys
// gained are locked first, in order, for the rest of the transaction, so
// two concurrent writes of one e-mail never both pass the duplicate check;
// the check then sees every write that held a lock before it, since each
// statement of a read-committed transaction takes a new snapshot.
const (
	// lockKeys takes the advisory locks: the keys come sorted and distinct,
	// and a function scan returns them in array order, so two writers lock
	// keys in one order. (An update or merge locks its contact's row before
	// the keys, an import batch the keys before a row it updates: those two
	// can deadlock on one contact; PostgreSQL then fails one of them, and
	// an import retries its batch.) The lock id is the one
	// contacts_claim_keys (migration 00002) takes.
	lockKeys = `select pg_advisory_xact_lock(hashtextextended($1::text || k, 0)) from unnest($2::text[]) k`
	// lockKeysValue is lockKeys as a query of one value, to run inside
	// another statement (see postgres.InTenantBatchWith).
	lockKeysValue = `select string_agg(pg_advisory_xact_lock(hashtextextended($1::text || k, 0))::text, '') from unnest($2::text[]) k`
	// checkKeys aborts the transaction (SQLSTATE RP409) at the first key,
	// listed from $3 on (see checkKeysSQL), that another contact holds;
	// duplicatesError then lists them all.
	checkKeys = `select contacts_duplicate(contact_id, key) from contact_keys
		where tenant_id = $1 and contact_id <> $2 and key = any(array[%s])`
	insertKeys = `insert into contact_keys (tenant_id, key, contact_id) select $1, k, $3 from unnest($2::text[]) k on conflict do nothing`
	// insertNewKeys are a new contact's: nothing holds them for it yet.
	insertNewKeys = `insert into contact_keys (tenant_id, key, contact_id) select $1, k, $3 from unnest($2::text[]) k`
	deleteKeys    = `delete from contact_keys where tenant_id = $1 and key = any($2) and contact_id = $3`
)

// queueKeys queues what moving contact id from the keys before to the keys
// after takes, and returns the keys gained; check asks for the duplicate
// check. (Create does the same in two statements, see Create.)
func queueKeys(b *pgx.Batch, tenantID, id uuid.UUID, before, after []string, check bool) (gained []string) {
	gained, lost := keyDiff(before, after), keyDiff(after, before)
	if len(gained) > 0 {
		b.Queue(lockKeys, tenantID, gained)
		if check {
			sql, args := checkKeysSQL(tenantID, id, gained)
			b.Queue(sql, args...)
		}
		b.Queue(insertKeys, tenantID, gained, id)
	}
	if len(lost) > 0 {
		b.Queue(deleteKeys, tenantID, lost, id)
	}
	return gained
}

// duplicatesError completes err, when the duplicate check failed it, with
// every other contact that holds one of the keys: read after the failed
// transaction, it falls back on the one the check found.
func (r *Contacts) duplicatesError(ctx context.Context, tenantID, id uuid.UUID, keys []string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeDuplicate {
		return err
	}
	var pairs [][2]string
	qerr := postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select contact_id::text, key from contact_keys
			where tenant_id = $1 and contact_id <> $2 and key = any($3) order by key, contact_id`, tenantID, id, keys)
		if err != nil {
			return err
		}
		pairs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (p [2]string, err error) {
			return p, row.Scan(&p[0], &p[1])
		})
		return err
	})
	if qerr != nil || len(pairs) == 0 {
		return err
	}
	return domain.ErrDuplicates(domain.GroupDuplicates(pairs))
}

// checkKeysSQL is checkKeys for keys, one parameter each: with the array's
// length in the statement, the plan PostgreSQL caches for it costs what a
// plan for given values would, and is reused; with one array parameter of
// unknown length it was planned anew on every write.
func checkKeysSQL(tenantID, id uuid.UUID, keys []string) (string, []any) {
	args := make([]any, 0, 2+len(keys))
	args = append(args, tenantID, id)
	params := make([]string, len(keys))
	for i, k := range keys {
		args = append(args, k)
		params[i] = "$" + strconv.Itoa(len(args))
	}
	return fmt.Sprintf(checkKeys, strings.Join(params, ",")), args
}

// keyDiff is the keys of b that a lacks, sorted and distinct.
func keyDiff(a, b []string) []string {
	out := make([]string, 0, len(b))
	for _, k := range b {
		if !slices.Contains(a, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Create writes the contact, its channel keys and its events in one
// pipelined round trip: a new row needs no read first, and the pipeline
// commits as one transaction (or, on a duplicate, not at all).
func (r *Contacts) Create(ctx context.Context, c *domain.Contact, o service.WriteOptions, evs func(*domain.Contact) ([]events.Event, error)) error {
	list, err := evs(c)
	if err != nil {
		return err
	}
	// Two statements: the one that scopes the transaction also locks the
	// keys; then one chained statement checks them and writes every row
	// (see postgres.ChainChecked). Its snapshot is taken after the locks
	// are held, so the check sees every write that held them before.
	writes := &pgx.Batch{}
	writes.Queue(insertContact, append(contactValues(c), c.SearchText(), c.SortName(), c.Fields().Team, c.Shares(), customValue(c.Fields().Custom))...)
	gained := keyDiff(nil, c.Keys())
	var lock, check *pgx.QueuedQuery
	if len(gained) > 0 {
		lock = &pgx.QueuedQuery{SQL: lockKeysValue, Arguments: []any{c.TenantID(), gained}}
		if !o.AllowDuplicate {
			sql, args := checkKeysSQL(c.TenantID(), c.ID(), gained)
			check = &pgx.QueuedQuery{SQL: sql, Arguments: args}
		}
		writes.Queue(insertNewKeys, c.TenantID(), gained, c.ID())
	}
	if err := events.QueueAppend(ctx, writes, list...); err != nil {
		return err
	}
	if err := queueTimeline(writes, c.TenantID(), list); err != nil {
		return err
	}
	b := &pgx.Batch{}
	if check != nil {
		b.QueuedQueries = append(b.QueuedQueries, postgres.ChainChecked(check, writes.QueuedQueries...))
	} else {
		b.QueuedQueries = append(b.QueuedQueries, postgres.Chain(writes.QueuedQueries...))
	}
	if o.ContactsQuota > 0 {
		// After the insert (whose trigger counted the contact), last before
		// the commit; a tenant without a quota sends nothing more.
		queueQuotaCheck(b, c.TenantID(), o.ContactsQuota, 1, false)
	}
	err = postgres.InTenantBatchWith(ctx, r.pool, c.TenantID(), lock, b)
	return translate(r.duplicatesError(ctx, c.TenantID(), c.ID(), gained, err))
}

// The contacts quota. Every insert, delete and erasure of contacts of a
// tenant with a quota keeps the tenant's count of live contacts (neither
// deleted, merged away nor erased) in contact_counts (triggers, migrations
// 00017 and 00018), spread over a few rows so that concurrent creates do
// not queue on one; tenants without a quota are not counted (Tenants.Apply
// starts and stops the count as the quota comes and goes). A write that
// creates contacts for a tenant with a quota then runs contacts_check_quota
// as its last statement before the commit, which sums those rows (its own
// contacts included) and fails the transaction (SQLSTATE RP403, translate)
// when the tenant would hold more than its quota.
//
// Concurrent creates cannot see each other's uncommitted contacts, so on
// their own two of them could both take the last place. Writes that leave
// less than 1024 contacts of room (and every import batch) therefore take
// the tenant's quota lock before they count, until their commit: near the
// boundary creates are counted one after another, and stay within the
// quota; far from it they take no lock at all. The quota can be exceeded
// only if more than 1024 contacts are committed while a create that passed
// far from the boundary is between its check and its commit (normally one
// commit's time), and then by at most the creates then in flight.
const checkQuota = `select contacts_check_quota($1, $2, $3, $4)`

// queueQuotaCheck queues the quota check of a write that created added
// contacts; serial takes the quota lock however far from it the tenant is.
func queueQuotaCheck(b *pgx.Batch, tenantID uuid.UUID, quota, added int64, serial bool) {
	b.Queue(checkQuota, tenantID, quota, added, serial)
}

// LiveContacts sums the tenant's rows of contact_counts: 0 for a tenant
// without a contacts quota, which is not counted.
func (r *Contacts) LiveContacts(ctx context.Context, tenantID uuid.UUID) (n int64, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select coalesce(sum(live), 0)::bigint from contact_counts where tenant_id = $1`, tenantID).Scan(&n)
	})
	return n, err
}

func (r *Contacts) Get(ctx context.Context, tenantID, id uuid.UUID) (c *domain.Contact, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err = scanContact(tx.QueryRow(ctx, `select `+contactColumns+` from contacts where tenant_id = $1 and id = $2`, tenantID, id))
		return err
	})
	return c, err
}

func (r *Contacts) Update(ctx context.Context, tenantID, id uuid.UUID, o service.WriteOptions, fn func(*domain.Contact) ([]events.Event, error)) (*domain.Contact, error) {
	return r.update(ctx, tenantID, id, o, fn, nil)
}

// Erase is an update that also deletes what else the service holds about
// the person: the activities logged with the contact, its timeline, and the
// answers kept for idempotent retries that show it.
func (r *Contacts) Erase(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) (*domain.Contact, error) {
	return r.update(ctx, tenantID, id, service.WriteOptions{AllowDuplicate: true}, fn, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			`delete from activities where tenant_id = $1 and contact_id = $2`,
			`delete from timeline where tenant_id = $1 and contact_id = $2`,
			// Answers stored for Idempotency-Key replay hold the record as it
			// was (a created contact, an activity about it).
			`delete from idempotency_keys where tenant_id = $1 and position(convert_to($2::text, 'UTF8') in body) > 0`,
		} {
			if _, err := tx.Exec(ctx, stmt, tenantID, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// update locks the contact, lets fn change it, stores it with its keys and
// events, and runs also (when set) in the same transaction.
func (r *Contacts) update(ctx context.Context, tenantID, id uuid.UUID, o service.WriteOptions, fn func(*domain.Contact) ([]events.Event, error), also func(pgx.Tx) error) (c *domain.Contact, err error) {
	var gained []string
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		// The row lock orders concurrent changes of one contact, and so the
		// outbox rows of their events (see events.Append).
		c, err = scanContact(tx.QueryRow(ctx, `select `+contactColumns+` from contacts where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		before := c.Keys()
		list, err := fn(c)
		if err != nil || len(list) == 0 {
			return err
		}
		b := &pgx.Batch{}
		gained = queueKeys(b, tenantID, id, before, c.Keys(), !o.AllowDuplicate)
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, updateContact, append(withoutCreatedAt(contactValues(c)), c.SearchText(), c.SortName(), erasedAt(c), c.Fields().Team, c.Shares(), customValue(c.Fields().Custom))...); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if err := writeTimeline(ctx, tx, tenantID, list); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
	return c, translate(r.duplicatesError(ctx, tenantID, id, gained, err))
}

// customValue is the custom column's value: never null.
func customValue(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// erasedAt is the erased_at value of c: null unless it was erased.
func erasedAt(c *domain.Contact) *time.Time {
	if !c.Erased() {
		return nil
	}
	t := c.ErasedAt()
	return &t
}

// withoutCreatedAt drops created_at (second to last) from a row's values:
// updates never change it.
func withoutCreatedAt(v []any) []any {
	n := len(v)
	return append(v[:n-2:n-2], v[n-1])
}

func (r *Contacts) Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) error {
	return postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err := scanContact(tx.QueryRow(ctx, `select `+contactColumns+` from contacts where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(c)
		if err != nil {
			return err
		}
		// Activities go with the row (on delete cascade); the channel keys
		// and the timeline are derived tables without foreign keys.
		for _, stmt := range []string{
			`delete from contact_keys where tenant_id = $1 and contact_id = $2`,
			`delete from timeline where tenant_id = $1 and contact_id = $2`,
			`delete from contacts where tenant_id = $1 and id = $2`,
		} {
			if _, err := tx.Exec(ctx, stmt, tenantID, id); err != nil {
				return err
			}
		}
		return events.Append(ctx, tx, list...)
	})
}

func (r *Contacts) List(ctx context.Context, tenantID uuid.UUID, q service.ListQuery, limit int) (cs []*domain.Contact, err error) {
	sql, args := listContactsSQL(tenantID, q, limit)
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		cs, err = collectContacts(rows)
		return err
	})
	return cs, err
}

// listContactsSQL builds the query of a contact list: every filter is a
// condition on an indexed column, the order is a keyset on (sort value, id).
func listContactsSQL(tenantID uuid.UUID, q service.ListQuery, limit int) (string, []any) {
	w := where{args: []any{tenantID}}
	w.add("tenant_id = $1")
	if !q.Viewer.All {
		w.add(w.visible(q.Viewer))
	}
	if q.CompanyID != uuid.Nil {
		w.add("company_id = $?", q.CompanyID)
	}
	if q.OwnerID != "" {
		w.add("owner_id = $?", q.OwnerID)
	}
	if q.Tag != "" {
		w.add("tags <> '{}' and tags @> array[$?::text]", q.Tag)
	}
	if q.LifecycleStage != "" {
		w.add("lifecycle_stage = $?", q.LifecycleStage)
	}
	if q.Source != "" {
		w.add("source = $?", q.Source)
	}
	for _, c := range q.CustomFilters {
		w.add("custom <> '{}' and custom @> $?", c)
	}
	for _, c := range []struct {
		cond string
		at   time.Time
	}{{"created_at >= $?", q.CreatedFrom}, {"created_at < $?", q.CreatedTo}, {"updated_at >= $?", q.UpdatedFrom}, {"updated_at < $?", q.UpdatedTo}} {
		if !c.at.IsZero() {
			w.add(c.cond, c.at)
		}
	}
	var key, order string
	switch q.Sort {
	case service.SortUpdated, service.SortUpdatedDesc:
		key = "updated_at"
	case service.SortName, service.SortNameDesc:
		key = `sort_name collate "C"`
	}
	desc := strings.HasPrefix(q.Sort, "-")
	cmp, dir := ">", "asc"
	if desc {
		cmp, dir = "<", "desc"
	}
	if len(q.SortPath) > 0 {
		// A custom value, compared as jsonb (numbers by value, texts and
		// dates as text); contacts without one come last, either way.
		v := "(custom #> " + w.arg(q.SortPath) + "::text[])"
		order = v + " " + dir + " nulls last, id " + dir
		if q.After.ID != uuid.Nil {
			id := w.arg(q.After.ID)
			if q.After.Value == "" {
				w.add(v + " is null and id " + cmp + " " + id)
			} else {
				val := w.arg(q.After.Value) + "::jsonb"
				w.add("(" + v + " " + cmp + " " + val + " or (" + v + " = " + val + " and id " + cmp + " " + id + ") or " + v + " is null)")
			}
		}
	} else if key == "" {
		order = "id " + dir
		if q.After.ID != uuid.Nil {
			w.add("id "+cmp+" $?", q.After.ID)
		}
	} else {
		order = key + " " + dir + ", id " + dir
		if q.After.ID != uuid.Nil {
			var v any = q.After.Value
			if key == "updated_at" {
				v, _ = time.Parse(time.RFC3339Nano, q.After.Value)
			}
			w.add("(" + strings.TrimSuffix(key, ` collate "C"`) + ", id) " + cmp + " (" + w.arg(v) + ` ` + collate(key) + ", " + w.arg(q.After.ID) + ")")
		}
	}
	lim := w.arg(limit)
	base := strings.Join(w.conds, " and ")
	if len(q.SearchKeys) == 0 && len(q.SearchWords) == 0 {
		return "select " + contactColumns + " from contacts where " + base + " order by " + order + " limit " + lim, w.args
	}
	// A contact matches by a channel key, by every word in its own text, or
	// by every word in the text of its company. Each way is its own query
	// with the filters, order and limit, so the planner picks each one's
	// plan: the trigram index for rare words, the sorted index filtered for
	// common ones. Ids from the keys and companies come as an array computed
	// once, which the planner looks up in an index instead of filtering the
	// tenant's every contact through a subplan. The union keeps the first
	// page of all three.
	var ways []string
	branch := func(cond string) {
		ways = append(ways, "(select "+contactColumns+" from contacts where "+base+" and "+cond+
			" order by "+order+" limit "+lim+")")
	}
	if len(q.SearchKeys) > 0 {
		branch("id = any(array(select contact_id from contact_keys where tenant_id = $1 and key = any(" + w.arg(q.SearchKeys) + ")))")
	}
	if len(q.SearchWords) > 0 {
		var like []string
		for _, word := range q.SearchWords {
			like = append(like, "search like "+w.arg(likeFragment(word)))
		}
		branch(strings.Join(like, " and "))
		branch("company_id = any(array(select id from companies where tenant_id = $1 and " + strings.Join(like, " and ") + "))")
	}
	return "select " + contactColumns + " from (" + strings.Join(ways, " union ") + ") u order by " + order + " limit " + lim, w.args
}

// collate keeps a row comparison on sort_name bytewise, like its index.
func collate(key string) string {
	if strings.HasSuffix(key, `collate "C"`) {
		return `collate "C"`
	}
	return ""
}

// where collects the conditions and arguments of a query; "$?" in a
// condition is the next argument.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// visible is the condition on contacts that a viewer sees (domain.Contact's
// VisibleTo in SQL): the owner, the shares, and for team-wide viewers the
// team.
func (w *where) visible(v domain.Viewer) string {
	shares := []string{"user:" + v.UserID}
	if v.Team != "" {
		shares = append(shares, "team:"+v.Team)
	}
	cond := "(owner_id = " + w.arg(v.UserID) + " or (shares <> '{}' and shares && " + w.arg(shares) + ")"
	if v.TeamWide && v.Team != "" {
		cond += " or team = " + w.arg(v.Team)
	}
	return cond + ")"
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		cond = strings.Replace(cond, "$?", w.arg(a), 1)
	}
	w.conds = append(w.conds, cond)
}

// likeFragment escapes s for a LIKE pattern matching values that contain it.
func likeFragment(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// SQLSTATEs the repository turns into domain errors.
const (
	codeQuota      = "RP403" // raised by contacts_check_quota
	codeDuplicate  = "RP409" // raised by contacts_duplicate
	codeNotLive    = "RP410" // raised by contacts_assert_live
	codeForeignKey = "23503"
)

// translate turns the database's refusals into the domain's errors.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == codeDuplicate:
		var pairs []struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		if jerr := json.Unmarshal([]byte(pgErr.Detail), &pairs); jerr != nil {
			return errors.Join(err, jerr)
		}
		flat := make([][2]string, len(pairs))
		for i, p := range pairs {
			flat[i] = [2]string{p.ID, p.Key}
		}
		return domain.ErrDuplicates(domain.GroupDuplicates(flat))
	case pgErr.Code == codeQuota:
		var q struct{ Quota, Count, Added int64 }
		if jerr := json.Unmarshal([]byte(pgErr.Detail), &q); jerr != nil {
			return errors.Join(err, jerr)
		}
		return domain.ErrQuotaExceeded(q.Quota, q.Count, q.Added)
	case pgErr.Code == codeForeignKey && pgErr.ConstraintName == "contacts_company":
		// Contacts' writes meet this key only by naming a missing company.
		return domain.ErrUnknownCompany()
	}
	return err
}
