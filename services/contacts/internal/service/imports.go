package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// TypeImported is the bulk event of the contacts an import created.
const TypeImported = catalog.ContactsImported

// Import tuning.
const (
	// ImportBatch is how many rows one transaction of an import writes.
	ImportBatch = 1000
	// ImportLease is how long a worker holds a job between batches; a job
	// whose worker died is taken over when it runs out.
	ImportLease = 30 * time.Second
	// ImportAttempts is how many times a job is taken before a failure
	// that is not a rejected row fails it.
	ImportAttempts = 5
	// importEventSize is how many created contacts one bulk event carries.
	importEventSize = 1000
)

// ImportRetryDelay is the wait before a failed attempt's job is taken again,
// times the attempts so far.
var ImportRetryDelay = 2 * time.Second

// ImportRequest starts an import of a CSV body.
type ImportRequest struct {
	Entity      string
	OnDuplicate string
	DryRun      bool
	// Mapping maps CSV headers to fields ("" drops the column).
	Mapping map[string]string
	// Encoding is the file's as the client states it; "" has it detected.
	Encoding string
	Body     io.Reader
}

// ImportRepository stores import jobs and runs their batches.
type ImportRepository interface {
	// Upload stores the job and its file in one transaction; rowsTotal
	// runs after the body's end and may settle job.Encoding, which is
	// stored with the count.
	Upload(ctx context.Context, job *domain.ImportJob, body io.Reader, rowsTotal func() (int64, error)) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.ImportJob, error)
	Errors(ctx context.Context, tenantID, id uuid.UUID, fn func(domain.ImportError) error) error
	// Claim leases the next job to run or resume; nil when there is none.
	Claim(ctx context.Context, lease time.Duration) (*domain.ImportJob, error)
	// File reads the job's file back as uploaded.
	File(ctx context.Context, job *domain.ImportJob) io.Reader
	// Batch runs fn and stores its writes with the counts it returns, in one
	// transaction, if the job's stored progress is still done; ready runs
	// before the progress is stored. With contactsQuota above 0, a batch
	// whose contacts would leave the tenant with more live contacts than
	// that stores nothing and fails with domain.ErrQuotaExceeded.
	Batch(ctx context.Context, job *domain.ImportJob, done int64, lease time.Duration, contactsQuota int64,
		fn func(ImportTx) (domain.ImportCounts, error), ready func() error) error
	Finish(ctx context.Context, job *domain.ImportJob) error
	// Retry hands the job back, to be taken again after delay.
	Retry(ctx context.Context, job *domain.ImportJob, delay time.Duration, reason string) error
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

	// KnownCompanies says which of ids are companies of the tenant.
	KnownCompanies(ids []uuid.UUID) (map[uuid.UUID]bool, error)
	// HeldCompanies locks companies' keys (Company.Key) and
	// says which company has each.
	HeldCompanies(keys []string) (map[string]uuid.UUID, error)
	// Company reads and locks a company.
	Company(id uuid.UUID) (*domain.Company, error)
	// CreateCompany writes a new company (with COPY, when the batch ends).
	CreateCompany(c *domain.Company)
	// UpdateCompany stores a changed company with its events.
	UpdateCompany(c *domain.Company, evs []events.Event) error
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
	case domain.ImportContacts, domain.ImportCompanies:
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
	if err := s.roomForImport(ctx, p.TenantID, req, settings.ContactsQuota); err != nil {
		return nil, err
	}
	body := bufio.NewReaderSize(req.Body, domain.HeadSize)
	first, err := body.Peek(domain.HeadSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	head, err := domain.ReadImportHead(first, len(first) < domain.HeadSize, req.Encoding)
	if err != nil {
		return nil, err
	}
	header := head.Header
	defs := settings.ContactFields
	if req.Entity == domain.ImportCompanies {
		defs = settings.CompanyFields
	}
	columns, err := domain.ResolveHeader(req.Entity, header, req.Mapping, defs)
	if err != nil {
		return nil, err
	}
	if p.IsAPIKey() && !slices.Contains(columns, "owner_id") {
		// Rows without an owner take the importer's, and a key is no user.
		if _, err := auth.DefaultOwner(p, "owner_id"); err != nil {
			return nil, err
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	job := &domain.ImportJob{ID: id, TenantID: p.TenantID, Entity: req.Entity, OnDuplicate: req.OnDuplicate,
		DryRun: req.DryRun, Encoding: head.Encoding, Delimiter: head.Delimiter, Columns: columns, CreatedBy: p.UserID,
		Role: access.StrongestWriter(p.Roles), Team: p.Team, CreatedAt: now, UpdatedAt: now}
	// The file is read as the worker will read it while it streams into the
	// database: that counts its records and, without a byte-order mark or a
	// stated encoding, decides the encoding from every line, not the first.
	pr, pw := io.Pipe()
	type scan struct {
		rows     int64
		encoding string
		err      error
	}
	scanned := make(chan scan, 1)
	go func() {
		var sc scan
		sc.rows, sc.encoding, sc.err = domain.ScanImportFile(pr, head)
		_, _ = io.Copy(io.Discard, pr)
		scanned <- sc
	}()
	var upErr error
	defer func() { pw.CloseWithError(upErr) }()
	upErr = s.imports.Upload(ctx, job, io.TeeReader(body, pw), func() (int64, error) {
		_ = pw.Close()
		sc := <-scanned
		job.Encoding = sc.encoding
		return sc.rows, sc.err
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

// roomForImport refuses, before the file is stored, an import of contacts
// into a tenant that already holds as many as its quota allows: every row
// it could store would be refused (a row that duplicates nothing creates a
// contact even with on_duplicate=update). An update may still touch only
// existing contacts, and a dry run writes nothing: those go ahead. The
// worker checks the quota again with every batch it writes.
func (s *service) roomForImport(ctx context.Context, tenant uuid.UUID, req ImportRequest, quota int64) error {
	if quota <= 0 || req.Entity != domain.ImportContacts || req.DryRun || req.OnDuplicate == domain.OnDuplicateUpdate {
		return nil
	}
	n, err := s.repo.LiveContacts(ctx, tenant)
	if err != nil || n < quota {
		return err
	}
	return domain.ErrQuotaExceeded(quota, n, 0)
}

// GetImport reads an import; only its author and admins see it.
func (s *service) GetImport(ctx context.Context, id uuid.UUID) (*domain.ImportJob, error) {
	p, err := auth.Caller(ctx)
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
	// A job queued by this instance wakes the worker at once (one queued by
	// another instance, that instance's worker). Jobs otherwise become
	// claimable only when a lease runs out or a retry falls due, soon after
	// a worker ran them: look every second for a minute after starting and
	// after each job, then every idle period, which costs the database one
	// statement.
	const busyPoll, busyFor, idlePoll = time.Second, time.Minute, 10 * time.Second
	busy := time.Now()
	for {
		job, err := s.imports.Claim(ctx, ImportLease)
		if err != nil && ctx.Err() == nil {
			log.Error("import: claim", "err", err)
		}
		if job == nil {
			// After an error (a connection the pool still held, cut by the
			// database), look again soon.
			wait := idlePoll
			switch {
			case err != nil:
				wait = 100 * time.Millisecond
			case time.Since(busy) < busyFor:
				wait = busyPoll
			}
			select {
			case <-ctx.Done():
				return nil
			case <-s.importWake:
			case <-time.After(wait):
			}
			continue
		}
		busy = time.Now()
		if job.Attempts > ImportAttempts {
			// Taken that often, the job keeps ending its worker (a crash
			// leaves no failed attempt behind to count): give up on it.
			job.Status = domain.ImportFailed
			job.Error = fmt.Sprintf("gave up after %d attempts; the last: %s", ImportAttempts, job.Error)
			if err := s.imports.Finish(ctx, job); err != nil && ctx.Err() == nil {
				log.Error("import: give up", "import", job.ID, "err", err)
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
	var quota *domain.QuotaExceeded
	if errors.As(err, &quota) {
		// Trying again would only meet the quota again: the job stops here.
		job.Status, job.Error = domain.ImportFailed, quotaStop(job, quota)
		if ferr := persist(func() error { return s.imports.Finish(context.WithoutCancel(ctx), job) }); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	if err != nil && job.Attempts < ImportAttempts {
		// Perhaps passing (a lost connection, a database restart): the job
		// goes back to the queue and resumes after the last batch stored.
		delay := time.Duration(job.Attempts) * ImportRetryDelay
		if rerr := persist(func() error { return s.imports.Retry(context.WithoutCancel(ctx), job, delay, err.Error()) }); rerr != nil {
			return errors.Join(err, rerr) // the lease runs out instead
		}
		return fmt.Errorf("attempt %d of %d, again in %s: %w", job.Attempts, ImportAttempts, delay, err)
	}
	if err != nil {
		job.Status, job.Error = domain.ImportFailed, err.Error()
	} else {
		job.Status, job.Error = domain.ImportDone, ""
	}
	if ferr := persist(func() error { return s.imports.Finish(context.WithoutCancel(ctx), job) }); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// quotaStop is the error of a job stopped by the tenant's contacts quota:
// the batch that would have gone over it stored nothing, and neither did
// any after it; the batches before it stay.
func quotaStop(job *domain.ImportJob, q *domain.QuotaExceeded) string {
	return fmt.Sprintf("stopped by the contacts quota: your tenant may hold at most %d contacts; it holds %d, and the "+
		"next batch of rows (from row %d of the file, the header not counted) would have added %d. Nothing from that "+
		"row on was imported. The first %d rows were imported before and stay (%d contacts created, %d updated). "+
		"Delete or merge contacts, or have the quota raised, then import the rest of the file.",
		q.Quota, q.Count, job.RowsDone+1, q.Added, job.RowsDone, job.Created, job.Updated)
}

// persist tries fn a few times over about two seconds: what broke an
// attempt (connections the database cut) may still hold some of the
// pool's connections, which the pool replaces as it meets them.
func persist(fn func() error) (err error) {
	for range 10 {
		if err = fn(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
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
	// csvErr is next's target for errors.As, kept here: a local one would
	// be moved to the heap for every record.
	csvErr *domain.CSVError
}

// importRecord is a record of the file as read: its cells, or why it
// could not be read.
type importRecord struct {
	line   int64
	lines  int
	cells  []string
	broken string
	errs   []domain.CellError // cells that are no text in the file's encoding
}

func (r *importRun) run(ctx context.Context) error {
	job := r.job
	var err error
	if r.settings, err = r.s.settingsFor(ctx, job.TenantID); err != nil {
		return err
	}
	// Reading and validating rows (CPU here) overlaps writing the batch
	// before (the database's): a batch is prepared while the last one is
	// written.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []preparedRow, 1)
	read := make(chan error, 1)
	go func() {
		defer close(batches)
		read <- r.read(ctx, batches)
	}()
	// Batches that only create or skip may be written two at a time, each
	// in its transaction, so that the database works on both cores. They
	// stay in order where it matters: a batch locks its keys only after the
	// batch before it locked its own (a row of both waits for the first to
	// commit, never the other way round), and stores its progress only
	// after the one before committed. Updates lock contacts and a dry run
	// remembers keys in memory: those go one at a time.
	inFlight := 1
	if !job.DryRun && job.OnDuplicate != domain.OnDuplicateUpdate {
		inFlight = 2
	}
	slots := make(chan struct{}, inFlight)
	var mu sync.Mutex
	var failed error
	locked, committed := closedChan(), make(chan error, 1)
	committed <- nil
	next := job.RowsDone
	var wg sync.WaitGroup
	for batch := range batches {
		slots <- struct{}{}
		mu.Lock()
		stop := failed
		mu.Unlock()
		if stop != nil {
			<-slots
			continue
		}
		prevLocked, prevCommitted := locked, committed
		myLocked, myCommitted := make(chan struct{}), make(chan error, 1)
		locked, committed = myLocked, myCommitted
		done := next
		next += int64(len(batch))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			var n domain.ImportCounts
			// The quota as the tenant's record says now: raised or lowered
			// while the job runs, it holds from the next batch.
			quota := r.s.settings(job.TenantID).ContactsQuota
			err := r.s.imports.Batch(ctx, job, done, ImportLease, quota, func(tx ImportTx) (domain.ImportCounts, error) {
				<-prevLocked
				var err error
				n, err = r.write(tx, batch, myLocked)
				return n, err
			}, func() error { return <-prevCommitted })
			safeClose(myLocked)
			mu.Lock()
			if err == nil {
				job.Add(n)
			} else if failed == nil {
				failed = err
				cancel()
			}
			mu.Unlock()
			myCommitted <- err
		}()
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	return <-read
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// safeClose closes c unless it is closed already.
func safeClose(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// preparedRow is a row read and judged on its own: a contact to store, or
// why not.
type preparedRow struct {
	line int64
	c    *domain.Contact
	co   *domain.Company // in an import of companies
	errs []domain.CellError
}

// read sends the file's rows after the last one stored, prepared, in
// batches.
func (r *importRun) read(ctx context.Context, out chan<- []preparedRow) error {
	job := r.job
	text := domain.TextOf(job.Encoding)
	cr := domain.NewCSVReader(text.Open(r.s.imports.File(ctx, job)), byte(job.Delimiter))
	cr.Chars = text.Chars
	if _, err := cr.Read(); err != nil {
		return fmt.Errorf("read the header again: %w", err)
	}
	if err := r.skipStored(cr, text); err != nil {
		return err
	}
	for {
		batch := make([]preparedRow, 0, ImportBatch)
		now := r.s.now()
		eof := false
		for len(batch) < ImportBatch {
			rec, err := r.next(cr, text)
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				return err
			}
			batch = append(batch, r.prepare(rec, now))
		}
		if len(batch) > 0 {
			select {
			case out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if eof {
			return nil
		}
	}
}

// skipStored reads past the rows already stored, to resume after them,
// without making their cells. A dry run stored none of its contacts, so
// it reads those rows again for their keys.
func (r *importRun) skipStored(cr *domain.CSVReader, text domain.Text) error {
	job := r.job
	for i := int64(0); i < job.RowsDone; i++ {
		if !job.DryRun {
			err := cr.Skip()
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case err != nil && !errors.As(err, &r.csvErr):
				return err // a broken read must not shift where the job resumes
			}
			continue
		}
		rec, err := r.next(cr, text)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch p := r.prepare(rec, r.s.now()); {
		case p.c != nil:
			r.remember(p.c.Keys())
		case p.co != nil:
			r.remember([]string{p.co.Key()})
		}
	}
	return nil
}

// next reads the next record and its cells as UTF-8. A cell of a column
// the import fills that is no text in the file's encoding (or holds a NUL,
// which the database's text cannot) is a cell error naming the line and
// character of its first bad byte and what the bytes are.
func (r *importRun) next(cr *domain.CSVReader, text domain.Text) (importRecord, error) {
	rec, err := cr.Read()
	switch {
	case errors.As(err, &r.csvErr):
		return importRecord{line: r.csvErr.Line, lines: r.csvErr.Lines, broken: r.csvErr.Message}, nil
	case err != nil:
		return importRecord{}, err
	}
	out := importRecord{line: rec.Line, lines: rec.Lines, cells: rec.Cells}
	if len(rec.Cells) != len(r.job.Columns) {
		return out, nil
	}
	for i, field := range r.job.Columns {
		if field == "" {
			continue
		}
		s, bad := text.Cell(rec.Cells[i])
		if bad < 0 {
			rec.Cells[i] = s
			continue
		}
		line, col := cr.Position(i, bad)
		out.errs = append(out.errs, domain.CellError{Column: field,
			Message: fmt.Sprintf("line %d, character %d: %s", line, col, text.Bad(rec.Cells[i], bad))})
	}
	return out, nil
}

// prepare judges a row on its own: whether it is CSV in the file's
// encoding, fits the header, and makes a valid contact. A rejected row
// that takes several lines says which.
func (r *importRun) prepare(rec importRecord, now time.Time) preparedRow {
	p := r.judge(rec, now)
	if rec.lines > 1 && len(p.errs) > 0 && rec.broken == "" {
		span := fmt.Sprintf(" (the row takes lines %d–%d)", rec.line, rec.line+int64(rec.lines)-1)
		for i := range p.errs {
			p.errs[i].Message += span
		}
	}
	return p
}

func (r *importRun) judge(rec importRecord, now time.Time) preparedRow {
	job := r.job
	p := preparedRow{line: rec.line}
	switch {
	case rec.broken != "":
		p.errs = []domain.CellError{{Message: "the row is not valid CSV: " + rec.broken}}
		return p
	case len(rec.cells) != len(job.Columns):
		p.errs = []domain.CellError{{Message: fmt.Sprintf("the row has %d cells, the header %d", len(rec.cells), len(job.Columns))}}
		return p
	case len(rec.errs) > 0:
		p.errs = rec.errs
		return p
	}
	if job.Entity == domain.ImportCompanies {
		f, errs := domain.CompanyFieldsFromRow(job.Columns, rec.cells, r.settings.CompanyFields)
		if len(errs) > 0 {
			p.errs = errs
			return p
		}
		if f.OwnerID == "" {
			owner, err := r.owner()
			if err != nil {
				p.errs = cellErrors(err)
				return p
			}
			f.OwnerID = owner
		}
		co, err := domain.NewCompany(job.TenantID, f, r.settings, now)
		if err != nil {
			p.errs = cellErrors(err)
		}
		p.co = co
		return p
	}
	f, errs := domain.ContactFieldsFromRow(job.Columns, rec.cells, r.settings.ContactFields)
	if len(errs) > 0 {
		p.errs = errs
		return p
	}
	f, err := r.defaults(f)
	if err != nil {
		p.errs = cellErrors(err)
		return p
	}
	c, err := domain.NewContact(job.TenantID, f, r.settings, now)
	if err != nil {
		p.errs = cellErrors(err)
		return p
	}
	p.c = c
	return p
}

// cellErrors turns a validation error into the columns it names.
func cellErrors(err error) []domain.CellError {
	e, ok := apperr.As(err)
	if !ok {
		return []domain.CellError{{Message: err.Error()}}
	}
	var out []domain.CellError
	for _, fe := range e.Fields {
		out = append(out, domain.CellError{Column: domain.ColumnOf(fe.Field), Message: fe.Message})
	}
	if len(out) == 0 {
		out = append(out, domain.CellError{Message: e.Message})
	}
	return out
}

// defaults fills what a row leaves empty as a create would: the importer
// owns the contact, in the importer's team.
func (r *importRun) defaults(f domain.Fields) (domain.Fields, error) {
	if f.OwnerID == "" {
		owner, err := r.owner()
		if err != nil {
			return f, err
		}
		f.OwnerID = owner
	}
	if f.Team == "" {
		f.Team = r.job.Team
	}
	return f, nil
}

// owner is who owns a row that names none: the importer, unless the import
// was started with an API key, which is no user (the row is then refused).
func (r *importRun) owner() (string, error) {
	return auth.DefaultOwner(auth.Principal{UserID: r.job.CreatedBy}, "owner_id")
}

func (r *importRun) hash(k string) uint64 { return maphash.String(r.seed, k) }

func (r *importRun) remember(keys []string) {
	for _, k := range keys {
		r.seen[r.hash(k)] = true
	}
}

// write stores a prepared batch in its transaction: each row created,
// skipped or used to update the record it duplicates, as on_duplicate
// says, or rejected.
func (r *importRun) write(tx ImportTx, rows []preparedRow, locked chan struct{}) (domain.ImportCounts, error) {
	job := r.job
	if job.Entity == domain.ImportCompanies {
		return writeBatch(r, tx, rows, locked, importKind[*domain.Company]{
			record: func(p preparedRow) *domain.Company { return p.co },
			keys:   func(c *domain.Company) []string { return []string{c.Key()} },
			held:   tx.HeldCompanies,
			update: func(id uuid.UUID, c *domain.Company) (bool, error) { return r.updateCompany(tx, id, c) },
			create: tx.CreateCompany,
			event: func(part []*domain.Company) (string, proto.Message) {
				msg := &contactsv1.CompaniesImported{ImportId: job.ID.String(), ActorId: job.CreatedBy}
				for _, c := range part {
					msg.Companies = append(msg.Companies, companyMessage(c))
				}
				return TypeCompaniesImported, msg
			},
		})
	}
	viewer := access.ViewerOf(job.CreatedBy, job.Team, []string{job.Role})
	rows, err := rejectUnknownCompanies(tx, rows)
	if err != nil {
		return domain.ImportCounts{}, err
	}
	return writeBatch(r, tx, rows, locked, importKind[*domain.Contact]{
		record: func(p preparedRow) *domain.Contact { return p.c },
		keys:   (*domain.Contact).Keys,
		held:   tx.HeldKeys,
		update: func(id uuid.UUID, c *domain.Contact) (bool, error) { return r.update(tx, id, c, viewer) },
		create: tx.Create,
		event: func(part []*domain.Contact) (string, proto.Message) {
			msg := &contactsv1.ContactsImported{ImportId: job.ID.String(), ActorId: job.CreatedBy}
			for _, c := range part {
				msg.Contacts = append(msg.Contacts, contactMessage(c))
			}
			return TypeImported, msg
		},
	})
}

// importKind is what writeBatch needs to know of the records it imports.
type importKind[T any] struct {
	record func(preparedRow) T // the row's record; nil when it was rejected
	// keys tell duplicates apart: a row duplicates the record holding any.
	keys   func(T) []string
	held   func(keys []string) (map[string]uuid.UUID, error)
	update func(existing uuid.UUID, row T) (changed bool, err error)
	create func(T)
	// event is the bulk event of created records.
	event func(part []T) (typ string, msg proto.Message)
}

// writeBatch is write for one kind of record.
func writeBatch[T comparable](r *importRun, tx ImportTx, rows []preparedRow, locked chan struct{}, k importKind[T]) (domain.ImportCounts, error) {
	job := r.job
	var n domain.ImportCounts
	var zero T
	var keys []string
	for _, p := range rows {
		if rec := k.record(p); rec != zero {
			keys = append(keys, k.keys(rec)...)
		}
	}
	held, err := k.held(keys)
	safeClose(locked)
	if err != nil {
		return n, err
	}
	reject := func(line int64, errs []domain.CellError) {
		for _, e := range errs {
			tx.Reject(domain.ImportError{Line: line, Column: e.Column, Message: e.Message})
		}
		n.Failed++
	}
	inBatch := map[string]bool{}
	var created []T
	for _, p := range rows {
		n.Rows++
		rec := k.record(p)
		if rec == zero {
			reject(p.line, p.errs)
			continue
		}
		var existing uuid.UUID
		dup := false
		for _, key := range k.keys(rec) {
			if id, found := held[key]; found && existing == uuid.Nil {
				existing, dup = id, true
			}
			if inBatch[key] || (job.DryRun && r.seen[r.hash(key)]) {
				dup = true
			}
		}
		switch {
		case !dup || job.OnDuplicate == domain.OnDuplicateCreate:
			created = append(created, rec)
			for _, key := range k.keys(rec) {
				inBatch[key] = true
			}
			if job.DryRun {
				r.remember(k.keys(rec))
			}
			n.Created++
		case job.OnDuplicate == domain.OnDuplicateSkip || existing == uuid.Nil:
			// A second row of one record in the file is skipped even by
			// update: the first one's record is not stored yet.
			n.Skipped++
		default:
			updated, err := k.update(existing, rec)
			switch _, isApp := apperr.As(err); {
			case isApp:
				reject(p.line, cellErrors(err))
			case err != nil:
				return n, err
			case updated:
				n.Updated++
			default:
				n.Skipped++
			}
		}
	}
	if job.DryRun {
		return n, nil
	}
	for _, rec := range created {
		k.create(rec)
	}
	for part := range slices.Chunk(created, importEventSize) {
		typ, msg := k.event(part)
		ev, err := events.New(Topic, Source, typ, job.TenantID, job.ID.String(), msg)
		if err != nil {
			return n, err
		}
		tx.Publish(ev)
	}
	return n, nil
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
	str, union := nonEmpty, joined
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

// TypeCompaniesImported is the bulk event of the companies an import created.
const TypeCompaniesImported = catalog.CompaniesImported

// updateCompany applies a row to the company it duplicates: the row's
// values replace the company's; its phones, e-mails and tags are added.
func (r *importRun) updateCompany(tx ImportTx, id uuid.UUID, row *domain.Company) (bool, error) {
	c, err := tx.Company(id)
	if err != nil {
		return false, err
	}
	cur, f := c.Fields(), row.Fields()
	str, union := nonEmpty, joined
	p := domain.CompanyPatch{Name: str(f.Name), LegalName: str(f.LegalName), TaxID: str(f.TaxID),
		RegistrationNumber: str(f.RegistrationNumber), LegalAddress: str(f.LegalAddress), Industry: str(f.Industry),
		Website: str(f.Website), Phones: union(cur.Phones, f.Phones), Emails: union(cur.Emails, f.Emails),
		Tags: union(cur.Tags, f.Tags)}
	if slices.Contains(r.job.Columns, "owner_id") {
		p.OwnerID = str(f.OwnerID)
	}
	if len(f.Custom) > 0 {
		p.Custom = f.Custom
	}
	changed, err := c.Apply(p, r.settings, r.s.now())
	if err != nil || len(changed) == 0 || r.job.DryRun {
		return len(changed) > 0, err
	}
	evs, err := companyUpdated(c, r.job.CreatedBy, changed)
	if err != nil {
		return false, err
	}
	return true, tx.UpdateCompany(c, evs)
}

// nonEmpty is a patch of a value a row gives: nil (leave alone) when empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// joined is a patch of a list a row adds to: a and the values of b it
// lacks, or nil (leave alone) when b is empty.
func joined(a, b []string) *[]string {
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

// rejectUnknownCompanies rejects the rows whose company_id names no company
// of the tenant: a row's mistake, which must not fail its whole batch.
func rejectUnknownCompanies(tx ImportTx, rows []preparedRow) ([]preparedRow, error) {
	var ids []uuid.UUID
	for _, p := range rows {
		if p.c != nil && p.c.Fields().CompanyID != uuid.Nil {
			ids = append(ids, p.c.Fields().CompanyID)
		}
	}
	if len(ids) == 0 {
		return rows, nil
	}
	known, err := tx.KnownCompanies(ids)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(rows)
	for i, p := range out {
		if p.c != nil && p.c.Fields().CompanyID != uuid.Nil && !known[p.c.Fields().CompanyID] {
			out[i].c = nil
			out[i].errs = []domain.CellError{{Column: "company_id", Message: "no company of the tenant has this id"}}
		}
	}
	return out, nil
}
