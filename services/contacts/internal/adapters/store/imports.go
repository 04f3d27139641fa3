package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/imports"
)

// ChunkSize is how much of an uploaded file one stored chunk holds.
const ChunkSize = 1 << 20

// Imports stores CSV import jobs, their files and their rejected rows.
type Imports struct{ pool *pgxpool.Pool }

// NewImports is the import repository on pool.
func NewImports(pool *pgxpool.Pool) *Imports { return &Imports{pool: pool} }

const importColumns = `id, tenant_id, entity, on_duplicate, dry_run, encoding, delimiter, columns, status, bytes,
	rows_total, rows_done, created, updated, skipped, failed, error, created_by, role, team, created_at, updated_at, finished_at,
	attempts`

func scanImport(row pgx.Row) (*domain.ImportJob, error) {
	var j domain.ImportJob
	var delim string
	var finished *time.Time
	err := row.Scan(&j.ID, &j.TenantID, &j.Entity, &j.OnDuplicate, &j.DryRun, &j.Encoding, &delim, &j.Columns, &j.Status,
		&j.Bytes, &j.RowsTotal, &j.RowsDone, &j.Created, &j.Updated, &j.Skipped, &j.Failed, &j.Error, &j.CreatedBy,
		&j.Role, &j.Team, &j.CreatedAt, &j.UpdatedAt, &finished, &j.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrImportNotFound
	}
	if err != nil {
		return nil, err
	}
	if delim != "" {
		j.Delimiter = []rune(delim)[0]
	}
	if finished != nil {
		j.FinishedAt = *finished
	}
	return &j, nil
}

// Upload stores job and the file body streams, in chunks, in one
// transaction: the job is queued when the whole file is in, and a failed
// upload (a cut connection, a file over the limit) leaves nothing behind.
// rowsTotal runs after the body's end and counts its records.
func (r *Imports) Upload(ctx context.Context, job *domain.ImportJob, body io.Reader, rowsTotal func() (int64, error)) error {
	return postgres.InTenant(ctx, r.pool, job.TenantID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into imports (id, tenant_id, entity, on_duplicate, dry_run, encoding, delimiter,
			columns, status, created_by, role, team, created_at, updated_at)
			values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13)`, job.ID, job.TenantID, job.Entity, job.OnDuplicate,
			job.DryRun, job.Encoding, string(job.Delimiter), job.Columns, domain.ImportUploading, job.CreatedBy, job.Role,
			job.Team, job.CreatedAt); err != nil {
			return err
		}
		buf := make([]byte, ChunkSize)
		for seq := 0; ; seq++ {
			n, err := io.ReadFull(body, buf)
			if n > 0 {
				if _, err := tx.Exec(ctx, `insert into import_chunks (tenant_id, import_id, seq, data) values ($1, $2, $3, $4)`,
					job.TenantID, job.ID, seq, buf[:n]); err != nil {
					return err
				}
				job.Bytes += int64(n)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		total, err := rowsTotal()
		if err != nil {
			return err
		}
		job.RowsTotal, job.Status = total, domain.ImportQueued
		// rowsTotal may settle the encoding too, having read the whole file.
		_, err = tx.Exec(ctx, `update imports set status = $3, bytes = $4, rows_total = $5, encoding = $6
			where tenant_id = $1 and id = $2`, job.TenantID, job.ID, job.Status, job.Bytes, job.RowsTotal, job.Encoding)
		return err
	})
}

// Get reads a job.
func (r *Imports) Get(ctx context.Context, tenantID, id uuid.UUID) (j *domain.ImportJob, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		j, err = scanImport(tx.QueryRow(ctx, `select `+importColumns+` from imports where tenant_id = $1 and id = $2`, tenantID, id))
		return err
	})
	return j, err
}

// Errors calls fn with each rejected row of job id, in file order.
func (r *Imports) Errors(ctx context.Context, tenantID, id uuid.UUID, fn func(domain.ImportError) error) error {
	return postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select line, col, message from import_errors where tenant_id = $1 and import_id = $2
			order by line, col`, tenantID, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e domain.ImportError
			if err := rows.Scan(&e.Line, &e.Column, &e.Message); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Claim takes the oldest job that is queued, or running under a lease
// that ran out (its worker died), and leases it for lease; nil when there
// is none. Only system.claim_import sees every tenant's jobs, and it names
// the job it took; the job is read in its tenant's scope. Should that read
// fail, the job waits for its lease to run out, as if this worker had died.
func (r *Imports) Claim(ctx context.Context, lease time.Duration) (*domain.ImportJob, error) {
	var tenant, id uuid.UUID
	err := r.pool.QueryRow(ctx, `select tenant_id, id from system.claim_import($1)`, lease).Scan(&tenant, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, tenant, id)
}

// File reads back job's file as it was uploaded, a chunk at a time.
func (r *Imports) File(ctx context.Context, job *domain.ImportJob) io.Reader {
	return &chunkReader{ctx: ctx, r: r, job: job}
}

type chunkReader struct {
	ctx  context.Context
	r    *Imports
	job  *domain.ImportJob
	seq  int
	data []byte
	eof  bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.data) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		err := postgres.InTenant(c.ctx, c.r.pool, c.job.TenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(c.ctx, `select data from import_chunks where tenant_id = $1 and import_id = $2 and seq = $3`,
				c.job.TenantID, c.job.ID, c.seq).Scan(&c.data)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			c.eof = true
			continue
		}
		if err != nil {
			return 0, err
		}
		c.seq++
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// Batch runs fn in one transaction of job's tenant, then stores what fn
// queued and adds the counts fn returns to the job's progress, renewing the
// lease. ready, when set, runs just before the progress update: it waits
// for the batch before this one to commit. The update checks that the
// job's stored progress is still done, the rows this batch starts after:
// rows and progress commit together or not at all, so a resumed job
// neither skips nor repeats a row, and a worker that lost its lease to
// another stops. With contactsQuota above 0, the contacts the batch created
// are checked against it after ready, so the count includes the batch
// before (see checkQuota); over it, the whole batch rolls back.
func (r *Imports) Batch(ctx context.Context, job *domain.ImportJob, done int64, lease time.Duration, contactsQuota int64,
	fn func(imports.Tx) (domain.ImportCounts, error), ready func() error) error {
	return postgres.InTenant(ctx, r.pool, job.TenantID, func(tx pgx.Tx) error {
		b := &importTx{ctx: ctx, tx: tx, job: job}
		n, err := fn(b)
		if err != nil {
			return err
		}
		if err := b.flush(); err != nil {
			return err
		}
		if ready != nil {
			if err := ready(); err != nil {
				return err
			}
		}
		if contactsQuota > 0 && len(b.created) > 0 {
			// Serial: a batch adds many contacts at once, and another job
			// of the tenant may be writing its own.
			if _, err := tx.Exec(ctx, checkQuota, job.TenantID, contactsQuota, int64(len(b.created)), true); err != nil {
				return translate(err)
			}
		}
		tag, err := tx.Exec(ctx, `update imports set rows_done = rows_done + $4, created = created + $5,
			updated = updated + $6, skipped = skipped + $7, failed = failed + $8, lease_until = now() + $9, updated_at = now()
			where tenant_id = $1 and id = $2 and rows_done = $3 and status = 'running' and attempts = $10`, job.TenantID, job.ID, done,
			n.Rows, n.Created, n.Updated, n.Skipped, n.Failed, lease, job.Attempts)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return imports.ErrLeaseLost
		}
		return nil
	})
}

// Retry hands the job back after a failed attempt: any worker may take it
// again after delay, and resumes it from its stored progress.
func (r *Imports) Retry(ctx context.Context, job *domain.ImportJob, delay time.Duration, reason string) error {
	return postgres.InTenant(ctx, r.pool, job.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update imports set lease_until = now() + $3, error = $4, updated_at = now()
			where tenant_id = $1 and id = $2 and status = 'running' and attempts = $5`, job.TenantID, job.ID, delay, reason, job.Attempts)
		return err
	})
}

// Finish records the job's end: done, or failed with job.Error.
func (r *Imports) Finish(ctx context.Context, job *domain.ImportJob) error {
	return postgres.InTenant(ctx, r.pool, job.TenantID, func(tx pgx.Tx) error {
		// Only the attempt that holds the job ends it: a worker that lost it
		// (attempts moved on) must not fail it or take its file away.
		tag, err := tx.Exec(ctx, `update imports set status = $3, error = $4, finished_at = now(), updated_at = now(),
			lease_until = null where tenant_id = $1 and id = $2 and attempts = $5`, job.TenantID, job.ID, job.Status, job.Error, job.Attempts)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return imports.ErrLeaseLost
		}
		// The file served its purpose; the job and its errors stay.
		_, err = tx.Exec(ctx, `delete from import_chunks where tenant_id = $1 and import_id = $2`, job.TenantID, job.ID)
		return err
	})
}

// importTx is imports.Tx on a transaction: contacts created are
// written with COPY when the batch ends, the rest as it comes.
type importTx struct {
	ctx       context.Context
	tx        pgx.Tx
	job       *domain.ImportJob
	created   []*domain.Contact
	companies []*domain.Company
	evs       []events.Event
	rejects   []domain.ImportError
}

func (b *importTx) KnownCompanies(ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, err := b.tx.Query(b.ctx, `select id from companies where tenant_id = $1 and id = any($2) for key share`, b.job.TenantID, ids)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	known := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		known[id] = true
	}
	return known, err
}

func (b *importTx) HeldCompanies(keys []string) (map[string]uuid.UUID, error) {
	keys = keyDiff(nil, keys)
	if len(keys) == 0 {
		return nil, nil
	}
	if _, err := b.tx.Exec(b.ctx, lockKeys, b.job.TenantID, keys); err != nil {
		return nil, err
	}
	// Every holder, oldest first: a key goes to the first that holds it.
	holders, err := companyHolders(b.ctx, b.tx, b.job.TenantID, uuid.Nil, keys)
	if err != nil {
		return nil, err
	}
	held := map[string]uuid.UUID{}
	for _, h := range holders {
		for _, k := range h.keys {
			if _, ok := held[k]; !ok {
				held[k] = h.id
			}
		}
	}
	return held, nil
}

func (b *importTx) Company(id uuid.UUID) (*domain.Company, error) {
	return scanCompany(b.tx.QueryRow(b.ctx, `select `+companyColumns+` from companies where tenant_id = $1 and id = $2 for update`,
		b.job.TenantID, id))
}

func (b *importTx) CreateCompany(c *domain.Company) { b.companies = append(b.companies, c) }

func (b *importTx) UpdateCompany(c *domain.Company, evs []events.Event) error {
	if _, err := b.tx.Exec(b.ctx, updateCompany, append(withoutCreatedAt(companyValues(c)), c.SearchText(),
		customValue(c.Fields().Custom))...); err != nil {
		return err
	}
	return events.Append(b.ctx, b.tx, evs...)
}

func (b *importTx) HeldKeys(keys []string) (map[string]uuid.UUID, error) {
	keys = keyDiff(nil, keys)
	if len(keys) == 0 {
		return nil, nil
	}
	if _, err := b.tx.Exec(b.ctx, lockKeys, b.job.TenantID, keys); err != nil {
		return nil, err
	}
	rows, err := b.tx.Query(b.ctx, `select key, contact_id from contact_keys where tenant_id = $1 and key = any($2)
		order by key, contact_id`, b.job.TenantID, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	held := map[string]uuid.UUID{}
	for rows.Next() {
		var k string
		var id uuid.UUID
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		if _, ok := held[k]; !ok {
			held[k] = id
		}
	}
	return held, rows.Err()
}

func (b *importTx) Contact(id uuid.UUID) (*domain.Contact, error) {
	return scanContact(b.tx.QueryRow(b.ctx, `select `+contactColumns+` from contacts where tenant_id = $1 and id = $2 for update`,
		b.job.TenantID, id))
}

func (b *importTx) Create(c *domain.Contact) { b.created = append(b.created, c) }

func (b *importTx) Update(c *domain.Contact, keysBefore []string, evs []events.Event) error {
	batch := &pgx.Batch{}
	queueKeys(batch, b.job.TenantID, c.ID(), keysBefore, c.Keys(), false)
	batch.Queue(updateContact, append(withoutCreatedAt(contactValues(c)), c.SearchText(), c.SortName(), erasedAt(c),
		c.Fields().Team, c.Shares(), customValue(c.Fields().Custom))...)
	if err := queueTimeline(batch, b.job.TenantID, evs); err != nil {
		return err
	}
	if err := events.QueueAppend(b.ctx, batch, evs...); err != nil {
		return err
	}
	return b.tx.SendBatch(b.ctx, batch).Close()
}

func (b *importTx) Reject(errs ...domain.ImportError) { b.rejects = append(b.rejects, errs...) }

func (b *importTx) Publish(evs ...events.Event) { b.evs = append(b.evs, evs...) }

// stageContacts is where the created contacts are copied: COPY cannot write
// a table under row-level security, so it fills a temporary table that one
// insert then moves, through the policy, into contacts.
const stageContacts = `create temporary table if not exists import_contacts
	(like contacts including defaults) on commit delete rows`

var stageColumns = []string{"id", "tenant_id", "first_name", "last_name", "emails", "phones", "owner_id", "tags",
	"company_id", "position", "lifecycle_stage", "source", "timezone", "timezone_derived", "address", "birthday",
	"version", "created_at", "updated_at", "search", "sort_name", "team", "shares", "custom"}

func (b *importTx) flush() error {
	ctx, tenant := b.ctx, b.job.TenantID
	if len(b.created) > 0 {
		if _, err := b.tx.Exec(ctx, stageContacts); err != nil {
			return err
		}
		rows := make([][]any, len(b.created))
		var keys []string
		var keyOwners []uuid.UUID
		for i, c := range b.created {
			rows[i] = append(contactValues(c), c.SearchText(), c.SortName(), c.Fields().Team, c.Shares(), customValue(c.Fields().Custom))
			for _, k := range keyDiff(nil, c.Keys()) {
				keys, keyOwners = append(keys, k), append(keyOwners, c.ID())
			}
		}
		if _, err := b.tx.CopyFrom(ctx, pgx.Identifier{"import_contacts"}, stageColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy contacts: %w", err)
		}
		cols := "id, tenant_id, first_name, last_name, emails, phones, owner_id, tags, company_id, position, lifecycle_stage, " +
			"source, timezone, timezone_derived, address, birthday, version, created_at, updated_at, search, sort_name, team, shares, custom"
		if _, err := b.tx.Exec(ctx, `insert into contacts (`+cols+`) select `+cols+` from import_contacts`); err != nil {
			return err
		}
		// New contacts, distinct keys each: nothing to conflict with, and
		// no ON CONFLICT, which costs a speculative insertion per row.
		if _, err := b.tx.Exec(ctx, `insert into contact_keys (tenant_id, key, contact_id)
			select $1, k, c from unnest($2::text[], $3::uuid[]) u(k, c)`, tenant, keys, keyOwners); err != nil {
			return err
		}
	}
	if len(b.companies) > 0 {
		if _, err := b.tx.Exec(ctx, `create temporary table if not exists import_companies
			(like companies including defaults) on commit delete rows`); err != nil {
			return err
		}
		rows := make([][]any, len(b.companies))
		for i, c := range b.companies {
			rows[i] = append(companyValues(c), customValue(c.Fields().Custom), c.SearchText())
		}
		cols := []string{"id", "tenant_id", "name", "legal_name", "tax_id", "registration_number", "legal_address", "industry",
			"website", "phones", "emails", "owner_id", "tags", "version", "created_at", "updated_at", "custom", "search"}
		if _, err := b.tx.CopyFrom(ctx, pgx.Identifier{"import_companies"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy companies: %w", err)
		}
		list := strings.Join(cols, ", ")
		if _, err := b.tx.Exec(ctx, `insert into companies (`+list+`) select `+list+` from import_companies`); err != nil {
			return err
		}
	}
	if err := insertTimelineBulk(ctx, b.tx, tenant, b.evs); err != nil {
		return err
	}
	if err := events.Append(ctx, b.tx, b.evs...); err != nil {
		return err
	}
	if len(b.rejects) > 0 {
		lines, cols, msgs := make([]int64, len(b.rejects)), make([]string, len(b.rejects)), make([]string, len(b.rejects))
		for i, e := range b.rejects {
			lines[i], cols[i], msgs[i] = e.Line, e.Column, e.Message
		}
		if _, err := b.tx.Exec(ctx, `insert into import_errors (tenant_id, import_id, line, col, message)
			select $1, $2, l, c, m from unnest($3::bigint[], $4::text[], $5::text[]) u(l, c, m)`,
			tenant, b.job.ID, lines, cols, msgs); err != nil {
			return err
		}
	}
	return nil
}

// insertTimelineBulk files the timeline entries of evs with one statement:
// entries of contacts created in the same transaction, so none is there yet.
func insertTimelineBulk(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, evs []events.Event) error {
	chs, err := timelineOf(evs)
	if err != nil {
		return err
	}
	var (
		contacts, ids  []uuid.UUID
		ats            []time.Time
		types, sources []string
		actors         []string
		data           []map[string]any
	)
	for _, ch := range chs {
		for _, e := range ch.Add {
			contacts, ids, ats = append(contacts, e.ContactID), append(ids, e.ID), append(ats, e.At)
			types, sources, actors = append(types, e.Type), append(sources, e.Source), append(actors, e.Actor)
			data = append(data, e.Data)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `insert into timeline (tenant_id, contact_id, at, id, type, source, actor, data)
		select $1, c, a, i, t, s, ac, d from unnest($2::uuid[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
			u(c, a, i, t, s, ac, d)`, tenantID, contacts, ats, ids, types, sources, actors, data)
	return err
}
