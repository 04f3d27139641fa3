package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// TypeImported is the bulk event of the contacts an import created.
const TypeImported = "crm.contacts.imported"

// Import tuning.
const (
	// ImportBatch is how many rows one transaction of an import writes.
	ImportBatch = 1000
	// ImportLease is how long a worker holds a job between batches; a job
	// whose worker died is taken over when it runs out.
	ImportLease = 30 * time.Second
	// importEventSize is how many created contacts one bulk event carries.
	importEventSize = 1000
	// sniffSize is how much of a file the encoding, delimiter and header
	// are read from.
	sniffSize = 64 << 10
)

// ImportRequest starts an import of a CSV body.
type ImportRequest struct {
	Entity      string
	OnDuplicate string
	DryRun      bool
	// Mapping maps CSV headers to fields ("" drops the column).
	Mapping map[string]string
	Body    io.Reader
}

// ImportRepository stores import jobs and runs their batches.
type ImportRepository interface {
	// Upload stores the job and its file in one transaction; rowsTotal
	// runs after the body's end.
	Upload(ctx context.Context, job *domain.ImportJob, body io.Reader, rowsTotal func() (int64, error)) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.ImportJob, error)
	Errors(ctx context.Context, tenantID, id uuid.UUID, fn func(domain.ImportError) error) error
	// Claim leases the next job to run or resume; nil when there is none.
	Claim(ctx context.Context, lease time.Duration) (*domain.ImportJob, error)
	// File reads the job's file back as uploaded.
	File(ctx context.Context, job *domain.ImportJob) io.Reader
	// Batch runs fn and stores its writes with the job's progress in one
	// transaction, if the job's stored progress is still done.
	Batch(ctx context.Context, job *domain.ImportJob, done int64, lease time.Duration, fn func(ImportTx) error) error
	Finish(ctx context.Context, job *domain.ImportJob) error
}

// ImportTx is one batch's transaction.
type ImportTx interface {
	// HeldKeys locks the channel keys and says which contact holds each.
	HeldKeys(keys []string) (map[string]uuid.UUID, error)
	// Contact reads and locks a contact.
	Contact(id uuid.UUID) (*domain.Contact, error)
	// Create writes a new contact (with COPY, when the batch ends).
	Create(c *domain.Contact)
	// Update stores a changed contact with its events.
	Update(c *domain.Contact, keysBefore []string, evs []events.Event) error
	// Reject records rejected rows.
	Reject(errs ...domain.ImportError)
	// Publish appends events to the outbox and files them in timelines.
	Publish(evs ...events.Event)
}

// ErrImportEntity refuses an import of an entity that has none.
func errImportOption(param, msg string) error {
	var v apperr.Invalid
	v.Add(param, msg)
	return v.Err()
}

// StartImport stores the file of an import and queues the job. The file's
// encoding, delimiter and header are checked first, so a file that cannot
// be read at all is refused at once and stores nothing.
func (s *service) StartImport(ctx context.Context, req ImportRequest) (*domain.ImportJob, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if s.imports == nil {
		return nil, errors.New("imports: no repository")
	}
	switch req.Entity {
	case domain.ImportContacts:
	case domain.ImportCompanies:
		return nil, errImportOption("entity", "importing companies is not built yet; import contacts")
	default:
		return nil, errImportOption("entity", `"contacts" or "companies"`)
	}
	if req.OnDuplicate == "" {
		req.OnDuplicate = domain.OnDuplicateSkip
	}
	if !slices.Contains([]string{domain.OnDuplicateSkip, domain.OnDuplicateUpdate, domain.OnDuplicateCreate}, req.OnDuplicate) {
		return nil, errImportOption("on_duplicate", `"skip", "update" or "create"`)
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	body := bufio.NewReaderSize(req.Body, sniffSize)
	head, err := body.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, errImportOption("body", "the file is empty; send a CSV whose first line names the columns")
	}
	encoding, delimiter := domain.SniffCSV(head)
	hr := csv.NewReader(domain.DecodeCSV(bytes.NewReader(head), encoding))
	hr.Comma, hr.FieldsPerRecord = delimiter, -1
	header, err := hr.Read()
	if err != nil || (len(head) == sniffSize && hr.InputOffset() >= int64(len(head))) {
		return nil, errImportOption("body", "the first line must name the columns, in at most 64 KiB")
	}
	columns, err := domain.ResolveHeader(req.Entity, header, req.Mapping, settings.ContactFields)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	job := &domain.ImportJob{ID: id, TenantID: p.TenantID, Entity: req.Entity, OnDuplicate: req.OnDuplicate,
		DryRun: req.DryRun, Encoding: encoding, Delimiter: delimiter, Columns: columns, CreatedBy: p.UserID,
		Role: roleOf(p), Team: p.Team, CreatedAt: now, UpdatedAt: now}
	// The records are counted as the file streams into the database.
	pr, pw := io.Pipe()
	counted := make(chan int64, 1)
	go func() {
		counted <- countRecords(domain.DecodeCSV(pr, encoding), delimiter)
		_, _ = io.Copy(io.Discard, pr)
	}()
	var upErr error
	defer func() { pw.CloseWithError(upErr) }()
	upErr = s.imports.Upload(ctx, job, io.TeeReader(body, pw), func() (int64, error) {
		_ = pw.Close()
		return <-counted, nil
	})
	if upErr != nil {
		return nil, upErr
	}
	select {
	case s.importWake <- struct{}{}:
	default:
	}
	return job, nil
}

// roleOf is the principal's strongest role that may write.
func roleOf(p auth.Principal) string {
	for _, r := range []string{auth.RoleAdmin, auth.RoleManager, auth.RoleRep} {
		if p.HasRole(r) {
			return r
		}
	}
	return ""
}

// countRecords counts the records after the header, broken ones included.
func countRecords(r io.Reader, delimiter rune) int64 {
	cr := csv.NewReader(bufio.NewReaderSize(r, 256<<10))
	cr.Comma, cr.FieldsPerRecord, cr.ReuseRecord = delimiter, -1, true
	var n int64
	for {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			break
		}
		n++
	}
	return max(n-1, 0)
}

// GetImport reads an import; only its author and admins see it.
func (s *service) GetImport(ctx context.Context, id uuid.UUID) (*domain.ImportJob, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.imports.Get(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if j.CreatedBy != p.UserID && !p.HasRole(auth.RoleAdmin) {
		return nil, domain.ErrImportNotFound
	}
	return j, nil
}

// ImportErrors calls fn with every rejected row of an import.
func (s *service) ImportErrors(ctx context.Context, id uuid.UUID, fn func(domain.ImportError) error) error {
	j, err := s.GetImport(ctx, id)
	if err != nil {
		return err
	}
	return s.imports.Errors(ctx, j.TenantID, j.ID, fn)
}

// RunImports runs queued imports, and resumes those a dead worker left,
// until ctx ends.
func (s *service) RunImports(ctx context.Context, log *slog.Logger) error {
	for {
		job, err := s.imports.Claim(ctx, ImportLease)
		if err != nil && ctx.Err() == nil {
			log.Error("import: claim", "err", err)
		}
		if job == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-s.importWake:
			case <-time.After(2 * time.Second):
			}
			continue
		}
		err = s.runImport(ctx, job)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Error("import failed", "import", job.ID, "tenant", job.TenantID, "err", err)
		default:
			log.Info("import done", "import", job.ID, "tenant", job.TenantID, "rows", job.RowsDone,
				"created", job.Created, "updated", job.Updated, "skipped", job.Skipped, "failed", job.Failed)
		}
	}
}

// runImport reads the job's file from the row after the last it stored and
// writes it in batches. A job that breaks (a row that makes the database
// fail, not a rejected row) is marked failed with the reason.
func (s *service) runImport(ctx context.Context, job *domain.ImportJob) error {
	run := &importRun{s: s, job: job, seen: map[uint64]bool{}, seed: maphash.MakeSeed()}
	err := run.run(ctx)
	if errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
		return err
	}
	if err != nil {
		job.Status, job.Error = domain.ImportFailed, err.Error()
	} else {
		job.Status = domain.ImportDone
	}
	if ferr := s.imports.Finish(context.WithoutCancel(ctx), job); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// ErrLeaseLost says another worker took the job over: this one stops.
var ErrLeaseLost = errors.New("import: the job's lease was lost to another worker")

type importRun struct {
	s        *service
	job      *domain.ImportJob
	settings domain.Settings
	// seen holds the keys (hashed) of the rows a dry run would create:
	// nothing is written, so the database cannot tell later rows.
	seen map[uint64]bool
	seed maphash.Seed
}

type importRecord struct {
	line   int64
	cells  []string
	broken error
}

func (r *importRun) run(ctx context.Context) error {
	job := r.job
	var err error
	if r.settings, err = r.s.settingsFor(ctx, job.TenantID); err != nil {
		return err
	}
	cr := csv.NewReader(bufio.NewReaderSize(domain.DecodeCSV(r.s.imports.File(ctx, job), job.Encoding), 256<<10))
	cr.Comma, cr.FieldsPerRecord = job.Delimiter, -1
	if _, err := cr.Read(); err != nil {
		return fmt.Errorf("read the header again: %w", err)
	}
	// Resume after the rows already stored. A dry run stored none of its
	// contacts, so it reads those rows again for their keys.
	for i := int64(0); i < job.RowsDone; i++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if job.DryRun && err == nil {
			if f, cellErrs := domain.ContactFieldsFromRow(job.Columns, rec, r.settings.ContactFields); len(cellErrs) == 0 {
				if c, err := domain.NewContact(job.TenantID, r.defaults(f), r.settings, time.Now()); err == nil {
					r.remember(c.Keys())
				}
			}
		}
	}
	for {
		batch := make([]importRecord, 0, ImportBatch)
		eof := false
		for len(batch) < ImportBatch {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			line, _ := cr.FieldPos(0)
			var pe *csv.ParseError
			switch {
			case errors.As(err, &pe):
				batch = append(batch, importRecord{line: int64(pe.StartLine), broken: pe.Err})
			case err != nil:
				return err
			default:
				batch = append(batch, importRecord{line: int64(line), cells: slices.Clone(rec)})
			}
		}
		if len(batch) > 0 {
			done := job.RowsDone
			before := *job
			err := r.s.imports.Batch(ctx, job, done, ImportLease, func(tx ImportTx) error { return r.batch(tx, batch) })
			if err != nil {
				*job = before
				return err
			}
		}
		if eof {
			return nil
		}
	}
}

// defaults fills what a row leaves empty as a create would: the importer
// owns the contact, in the importer's team.
func (r *importRun) defaults(f domain.Fields) domain.Fields {
	if f.OwnerID == "" {
		f.OwnerID = r.job.CreatedBy
	}
	if f.Team == "" {
		f.Team = r.job.Team
	}
	return f
}

func (r *importRun) hash(k string) uint64 { return maphash.String(r.seed, k) }

func (r *importRun) remember(keys []string) {
	for _, k := range keys {
		r.seen[r.hash(k)] = true
	}
}

// batch handles the rows of one transaction.
func (r *importRun) batch(tx ImportTx, rows []importRecord) error {
	job, now := r.job, r.s.now()
	type valid struct {
		line int64
		c    *domain.Contact
	}
	var ok []valid
	var keys []string
	reject := func(line int64, column, msg string) {
		tx.Reject(domain.ImportError{Line: line, Column: column, Message: msg})
	}
	for _, rec := range rows {
		job.RowsDone++
		switch {
		case rec.broken != nil:
			reject(rec.line, "", "the row is not valid CSV: "+rec.broken.Error())
			job.Failed++
			continue
		case len(rec.cells) != len(job.Columns):
			reject(rec.line, "", fmt.Sprintf("the row has %d cells, the header %d", len(rec.cells), len(job.Columns)))
			job.Failed++
			continue
		}
		f, cellErrs := domain.ContactFieldsFromRow(job.Columns, rec.cells, r.settings.ContactFields)
		var c *domain.Contact
		var err error
		if len(cellErrs) == 0 {
			c, err = domain.NewContact(job.TenantID, r.defaults(f), r.settings, now)
		}
		if e, isApp := apperr.As(err); isApp {
			for _, fe := range e.Fields {
				cellErrs = append(cellErrs, domain.CellError{Column: domain.ColumnOf(fe.Field), Message: fe.Message})
			}
			if len(e.Fields) == 0 {
				cellErrs = append(cellErrs, domain.CellError{Message: e.Message})
			}
		} else if err != nil {
			return err
		}
		if len(cellErrs) > 0 {
			for _, ce := range cellErrs {
				reject(rec.line, ce.Column, ce.Message)
			}
			job.Failed++
			continue
		}
		ok = append(ok, valid{rec.line, c})
		keys = append(keys, c.Keys()...)
	}
	held, err := tx.HeldKeys(keys)
	if err != nil {
		return err
	}
	inBatch := map[string]bool{}
	viewer := domain.Viewer{UserID: job.CreatedBy, Team: job.Team, All: job.Role == auth.RoleAdmin,
		TeamWide: job.Role == auth.RoleManager}
	var created []*domain.Contact
	for _, v := range ok {
		var existing uuid.UUID
		dup := false
		for _, k := range v.c.Keys() {
			if id, found := held[k]; found && existing == uuid.Nil {
				existing, dup = id, true
			}
			if inBatch[k] || (job.DryRun && r.seen[r.hash(k)]) {
				dup = true
			}
		}
		switch {
		case !dup || job.OnDuplicate == domain.OnDuplicateCreate:
			created = append(created, v.c)
			for _, k := range v.c.Keys() {
				inBatch[k] = true
			}
			if job.DryRun {
				r.remember(v.c.Keys())
			}
			job.Created++
		case job.OnDuplicate == domain.OnDuplicateSkip || existing == uuid.Nil:
			// A second row of one person in the file is skipped even by
			// update: the first one's contact is not stored yet.
			job.Skipped++
		default:
			updated, err := r.update(tx, existing, v.c, viewer)
			if err != nil {
				if e, isApp := apperr.As(err); isApp {
					for _, fe := range e.Fields {
						reject(v.line, domain.ColumnOf(fe.Field), fe.Message)
					}
					if len(e.Fields) == 0 {
						reject(v.line, "", e.Message)
					}
					job.Failed++
					continue
				}
				return err
			}
			if updated {
				job.Updated++
			} else {
				job.Skipped++
			}
		}
	}
	if job.DryRun {
		return nil
	}
	for _, c := range created {
		tx.Create(c)
	}
	for part := range slices.Chunk(created, importEventSize) {
		msg := &contactsv1.ContactsImported{ImportId: job.ID.String(), ActorId: job.CreatedBy}
		for _, c := range part {
			msg.Contacts = append(msg.Contacts, contactMessage(c))
		}
		ev, err := events.New(Topic, Source, TypeImported, job.TenantID, job.ID.String(), msg)
		if err != nil {
			return err
		}
		tx.Publish(ev)
	}
	return nil
}

// errInvisibleDuplicate rejects an update of a contact the importer may not see.
var errInvisibleDuplicate = apperr.New(apperr.KindConflict, "duplicate-contact",
	"the row is a duplicate of a contact you may not see; it was left unchanged")

// update applies a row to the contact it duplicates: the row's values
// replace the contact's, its e-mails, phones and tags are added to the
// contact's. It reports whether anything changed.
func (r *importRun) update(tx ImportTx, id uuid.UUID, row *domain.Contact, viewer domain.Viewer) (bool, error) {
	c, err := tx.Contact(id)
	if err != nil {
		return false, err
	}
	if !c.VisibleTo(viewer) {
		return false, errInvisibleDuplicate
	}
	before := c.Keys()
	p := patchFromRow(r.job.Columns, c.Fields(), row.Fields())
	changed, err := c.Apply(p, r.settings, r.s.now())
	if err != nil || len(changed) == 0 || r.job.DryRun {
		return len(changed) > 0, err
	}
	evs, err := contactUpdated(c, r.job.CreatedBy, changed)
	if err != nil {
		return false, err
	}
	return true, tx.Update(c, before, evs)
}

// patchFromRow is the patch a row makes of a contact: each field the row
// fills, lists joined.
func patchFromRow(columns []string, cur, row domain.Fields) domain.Patch {
	var p domain.Patch
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	union := func(a, b []string) *[]string {
		if len(b) == 0 {
			return nil
		}
		out := slices.Clone(a)
		for _, x := range b {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return &out
	}
	p.FirstName, p.LastName, p.Position = str(row.FirstName), str(row.LastName), str(row.Position)
	p.LifecycleStage, p.Source, p.Birthday = str(row.LifecycleStage), str(row.Source), str(row.Birthday)
	p.Emails, p.Phones, p.Tags = union(cur.Emails, row.Emails), union(cur.Phones, row.Phones), union(cur.Tags, row.Tags)
	if slices.Contains(columns, "owner_id") {
		p.OwnerID = str(row.OwnerID)
	}
	if slices.Contains(columns, "team") {
		p.Team = str(row.Team)
	}
	if slices.Contains(columns, "timezone") {
		p.Timezone = str(row.Timezone)
	}
	if row.CompanyID != uuid.Nil {
		p.CompanyID = &row.CompanyID
	}
	if !row.Address.IsZero() {
		a := row.Address
		p.Address = &a
	}
	if len(row.Custom) > 0 {
		p.Custom = row.Custom
	}
	return p
}
