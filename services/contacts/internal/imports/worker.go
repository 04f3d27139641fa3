// Package imports is the contacts service's import engine: the worker
// that claims queued import jobs (a lease per job, taken over when a worker
// dies), reads each file from where it stopped, judges every row against
// the tenant's settings and writes batches of contacts or companies with
// their events, resuming after the last batch stored.
package imports

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Tuning.
const (
	// Batch is how many rows one transaction of an import writes.
	Batch = 1000
	// Lease is how long a worker holds a job between batches; a job whose
	// worker died is taken over when it runs out.
	Lease = 30 * time.Second
	// Attempts is how many times a job is taken before a failure that is
	// not a rejected row fails it.
	Attempts = 5
	// eventSize is how many created contacts one bulk event carries.
	eventSize = 1000
)

// RetryDelay is the wait before a failed attempt's job is taken again,
// times the attempts so far.
var RetryDelay = 2 * time.Second

// Jobs is the worker's side of the job store.
type Jobs interface {
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
		fn func(Tx) (domain.ImportCounts, error), ready func() error) error
	Finish(ctx context.Context, job *domain.ImportJob) error
	// Retry hands the job back, to be taken again after delay.
	Retry(ctx context.Context, job *domain.ImportJob, delay time.Duration, reason string) error
}

// Tx is one batch's transaction.
type Tx interface {
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

// Worker runs queued imports.
type Worker struct {
	jobs Jobs
	// record is what the tenant's record says now (its quota, read again
	// for every batch); settings add its custom fields and lead sources,
	// read when a job starts.
	record   func(tenant uuid.UUID) domain.Settings
	settings func(ctx context.Context, tenant uuid.UUID) (domain.Settings, error)
	log      *slog.Logger
	now      func() time.Time
	wake     chan struct{}
}

// NewWorker runs the jobs of jobs. record reads a tenant's record as the
// tenancy directory holds it; SetSettings says where the rest of a
// tenant's settings come from, before Run.
func NewWorker(jobs Jobs, record func(tenant uuid.UUID) domain.Settings, log *slog.Logger) *Worker {
	return &Worker{jobs: jobs, record: record, log: log, now: time.Now, wake: make(chan struct{}, 1)}
}

// SetSettings says where the worker reads a tenant's settings when a job
// starts (the contacts service's ImportSettings).
func (w *Worker) SetSettings(fn func(ctx context.Context, tenant uuid.UUID) (domain.Settings, error)) {
	w.settings = fn
}

// Wake tells the worker a job was queued by this instance, so it looks at
// once.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run runs queued imports, and resumes those a dead worker left, until ctx
// ends.
func (w *Worker) Run(ctx context.Context) error {
	log := w.log
	// A job queued by this instance wakes the worker at once (one queued by
	// another instance, that instance's worker). Jobs otherwise become
	// claimable only when a lease runs out or a retry falls due, soon after
	// a worker ran them: look every second for a minute after starting and
	// after each job, then every idle period, which costs the database one
	// statement.
	const busyPoll, busyFor, idlePoll = time.Second, time.Minute, 10 * time.Second
	busy := time.Now()
	for {
		job, err := w.jobs.Claim(ctx, Lease)
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
			case <-w.wake:
			case <-time.After(wait):
			}
			continue
		}
		busy = time.Now()
		if job.Attempts > Attempts {
			// Taken that often, the job keeps ending its worker (a crash
			// leaves no failed attempt behind to count): give up on it.
			job.Status = domain.ImportFailed
			job.Error = fmt.Sprintf("gave up after %d attempts; the last: %s", Attempts, job.Error)
			if err := w.jobs.Finish(ctx, job); err != nil && ctx.Err() == nil {
				log.Error("import: give up", "import", job.ID, "err", err)
			}
			continue
		}
		err = w.runImport(ctx, job)
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
func (w *Worker) runImport(ctx context.Context, job *domain.ImportJob) error {
	run := &importRun{w: w, job: job, seen: map[uint64]bool{}, seed: maphash.MakeSeed()}
	err := run.run(ctx)
	if errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
		return err
	}
	var quota *domain.QuotaExceeded
	if errors.As(err, &quota) {
		// Trying again would only meet the quota again: the job stops here.
		job.Status, job.Error = domain.ImportFailed, quotaStop(job, quota)
		if ferr := persist(func() error { return w.jobs.Finish(context.WithoutCancel(ctx), job) }); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	if err != nil && job.Attempts < Attempts {
		// Perhaps passing (a lost connection, a database restart): the job
		// goes back to the queue and resumes after the last batch stored.
		delay := time.Duration(job.Attempts) * RetryDelay
		if rerr := persist(func() error { return w.jobs.Retry(context.WithoutCancel(ctx), job, delay, err.Error()) }); rerr != nil {
			return errors.Join(err, rerr) // the lease runs out instead
		}
		return fmt.Errorf("attempt %d of %d, again in %s: %w", job.Attempts, Attempts, delay, err)
	}
	if err != nil {
		job.Status, job.Error = domain.ImportFailed, err.Error()
	} else {
		job.Status, job.Error = domain.ImportDone, ""
	}
	if ferr := persist(func() error { return w.jobs.Finish(context.WithoutCancel(ctx), job) }); ferr != nil {
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
