package imports

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// ErrLeaseLost says another worker took the job over: this one stops.
var ErrLeaseLost = errors.New("import: the job's lease was lost to another worker")

type importRun struct {
	w        *Worker
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
	if r.settings, err = r.w.settings(ctx, job.TenantID); err != nil {
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
			quota := r.w.record(job.TenantID).ContactsQuota
			err := r.w.jobs.Batch(ctx, job, done, Lease, quota, func(tx Tx) (domain.ImportCounts, error) {
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
	cr := domain.NewCSVReader(text.Open(r.w.jobs.File(ctx, job)), byte(job.Delimiter))
	cr.Chars = text.Chars
	if _, err := cr.Read(); err != nil {
		return fmt.Errorf("read the header again: %w", err)
	}
	if err := r.skipStored(cr, text); err != nil {
		return err
	}
	for {
		batch := make([]preparedRow, 0, Batch)
		now := r.w.now()
		eof := false
		for len(batch) < Batch {
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
		switch p := r.prepare(rec, r.w.now()); {
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
