// Package timers runs the tasks service's due-time events on river, a
// job queue kept in the service's own PostgreSQL (github.com/riverqueue/river):
// a task's reminder and overdue moments are jobs inserted in the task's
// own transaction, one job per tenant, event and second however many tasks
// fall due in it. A job's worker marks the tasks due, appends their events
// to the outbox and completes the job in one transaction: a job that runs
// twice (a replica killed after its commit, before river heard of it)
// finds nothing more to tell, and one that never committed runs again.
// River elects one leader among the replicas to schedule jobs and rescue
// those of a replica that died; every replica works them.
package timers

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/store"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/migrations"
)

// QueueName is the river queue of due-time jobs.
const QueueName = "task_due"

// DueArgs is a due-time job: tenant's Event (store.DueSoon or
// store.Overdue) due at At. The three make it unique: inserting the same
// job again, while it waits or after it ran, is skipped.
type DueArgs struct {
	TenantID uuid.UUID `json:"tenant_id" river:"unique"`
	Event    string    `json:"event" river:"unique"`
	At       time.Time `json:"at" river:"unique"`
}

// Kind names the job in river's tables.
func (DueArgs) Kind() string { return "task_due" }

// InsertOpts puts the job on the queue, unique by its arguments.
func (DueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EventsOf makes the events of tasks whose event fell due.
type EventsOf func(event string, tasks []*domain.Task) ([]events.Event, error)

// Queue is the due-time queue: it schedules timers in writes'
// transactions and works the jobs.
type Queue struct {
	client *river.Client[pgx.Tx]
	// waiting are timers this replica saw commit and that have not come
	// yet: their jobs wait in river's table (nothing removes a job before
	// it runs), so scheduling one again would only be skipped as a
	// duplicate. Many tasks are due at a round hour.
	mu      sync.Mutex
	waiting map[waitKey]time.Time
}

type waitKey struct {
	tenant uuid.UUID
	event  string
	at     int64
}

// maxWaiting bounds the memory of waiting timers.
const maxWaiting = 100_000

var _ store.TimerQueue = (*Queue)(nil)

// Options tune the queue; the zero value is the service's defaults.
type Options struct {
	// Poll is how often each replica looks for jobs due (200 ms): the
	// usual lateness of an event.
	Poll time.Duration
	// Workers is how many jobs a replica works at once (20).
	Workers int
	// Rescue is how long a job may run before the leader takes it for a
	// replica's that died (30 s).
	Rescue time.Duration
}

// New makes the queue over pool; eventsOf makes the events.
func New(pool *pgxpool.Pool, log *slog.Logger, eventsOf EventsOf, o Options) (*Queue, error) {
	if o.Poll == 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Workers == 0 {
		o.Workers = 20
	}
	if o.Rescue == 0 {
		o.Rescue = 30 * time.Second
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{pool: pool, eventsOf: eventsOf})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:               migrations.RiverSchema,
		Logger:               log,
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{QueueName: {MaxWorkers: o.Workers}},
		FetchPollInterval:    o.Poll,
		FetchCooldown:        o.Poll / 10,
		JobTimeout:           o.Rescue / 2,
		RescueStuckJobsAfter: o.Rescue,
		RetryPolicy:          retry{},
		// The app role owns no index: the owner reindexes, if ever needed.
		ReindexerIndexNames: []string{},
		SoftStopTimeout:     10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("timers: %w", err)
	}
	return &Queue{client: client, waiting: map[waitKey]time.Time{}}, nil
}

// Committed remembers timers whose jobs a committed write scheduled.
func (q *Queue) Committed(tenant uuid.UUID, timers []store.Timer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting)+len(timers) > maxWaiting {
		now := time.Now()
		for k, at := range q.waiting {
			if !at.After(now) {
				delete(q.waiting, k)
			}
		}
		if len(q.waiting)+len(timers) > maxWaiting {
			clear(q.waiting)
		}
	}
	for _, t := range timers {
		at := t.At.UTC().Truncate(time.Second)
		q.waiting[waitKey{tenant, t.Event, at.Unix()}] = at
	}
}

// unseen are the timers not known to wait: those yet to come by more than
// a second that a committed write scheduled are left out.
func (q *Queue) unseen(tenant uuid.UUID, timers []store.Timer) []store.Timer {
	q.mu.Lock()
	defer q.mu.Unlock()
	soon := time.Now().Add(time.Second)
	out := timers[:0:0]
	for _, t := range timers {
		at := t.At.UTC().Truncate(time.Second)
		if known, ok := q.waiting[waitKey{tenant, t.Event, at.Unix()}]; ok && known.After(soon) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// ScheduleTx inserts the timers' jobs in tx.
func (q *Queue) ScheduleTx(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, timers []store.Timer) error {
	if timers = q.unseen(tenant, timers); len(timers) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(timers))
	for i, t := range timers {
		params[i] = river.InsertManyParams{Args: DueArgs{TenantID: tenant, Event: t.Event, At: t.At.UTC().Truncate(time.Second)},
			InsertOpts: &river.InsertOpts{Queue: QueueName, ScheduledAt: t.At, UniqueOpts: river.UniqueOpts{ByArgs: true}}}
	}
	_, err := q.client.InsertManyTx(ctx, tx, params)
	return err
}

// Run works the jobs until ctx ends, then stops: running jobs finish (or,
// after ten seconds, are cancelled and run again elsewhere).
func (q *Queue) Run(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	_ = q.client.Stop(stop)
	return nil
}

type worker struct {
	river.WorkerDefaults[DueArgs]
	pool     *pgxpool.Pool
	eventsOf EventsOf
}

// Work tells every task of the tenant whose event is due and not yet told,
// and completes the job, in one transaction.
func (w *worker) Work(ctx context.Context, job *river.Job[DueArgs]) error {
	return postgres.InTenant(ctx, w.pool, job.Args.TenantID, func(tx pgx.Tx) error {
		due, err := store.MarkDue(ctx, tx, job.Args.TenantID, job.Args.Event, time.Now())
		if err != nil {
			return err
		}
		evs, err := w.eventsOf(job.Args.Event, due)
		if err != nil {
			return err
		}
		if err := events.Append(ctx, tx, evs...); err != nil {
			return err
		}
		done, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		if err != nil {
			return err
		}
		// A job the leader rescued meanwhile comes back unchanged, without
		// an error: it will run again, so this run must not commit.
		if done.State != rivertype.JobStateCompleted {
			return fmt.Errorf("timers: job %d is %s, not completed", job.ID, done.State)
		}
		return nil
	})
}

// retry waits 1, 2, 4 … seconds between attempts, at most 30: a due-time
// event is already late when its job fails.
type retry struct{}

func (retry) NextRetry(job *rivertype.JobRow) time.Time {
	wait := math.Min(math.Pow(2, float64(job.Attempt-1)), 30)
	return time.Now().Add(time.Duration(wait * float64(time.Second)))
}
