package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// relayLockKey is the advisory lock naming the outbox relay leader of a
// database ("rapp" "outb"). It is the same for every service: one outbox
// table per database means one leader per database.
const relayLockKey int64 = 0x72617070_6f757462

// leaderRetry is how often a standby replica asks for the lock.
const leaderRetry = time.Second

// outboxChannel is the LISTEN/NOTIFY channel on which a standby relay tells
// the leader, in another process, that this process committed outbox rows.
const outboxChannel = "rapport_outbox"

// outboxMark is in the text of every statement that appends to the outbox
// (insertOutbox), for postgres.OnCommit to recognise.
const outboxMark = "insert into outbox "

// RelayOptions tunes a relay; zero values take the defaults.
type RelayOptions struct {
	// BatchSize is the most rows read and published at once (default 500).
	// Keep it at or below the writer's BatchSize (NewWriter: 1000).
	BatchSize int
	// PollInterval is the least time between the starts of two batches that
	// were not full (default 20ms): while commits keep coming, the relay
	// gathers them this long rather than reading the outbox after each.
	PollInterval time.Duration
	// IdleInterval is the longest the relay waits for a wake-up before it
	// reads the outbox anyway (default 5s): a safety net for rows whose
	// commit woke no relay (written by hand, or notified while a new leader
	// was not listening yet).
	IdleInterval time.Duration
	// Service names the relay in logs and metrics.
	Service string
}

// Relay publishes outbox rows to Kafka. Every replica of a service runs one;
// a session advisory lock elects the single one that publishes, because two
// publishing relays could interleave one aggregate's events out of order.
type Relay struct {
	pool *pgxpool.Pool
	w    Writer
	opts RelayOptions

	leading atomic.Bool
	backlog atomic.Int64
	ageBits atomic.Uint64 // float64 seconds
	// wake tells the leading relay that outbox rows committed; forward, a
	// standby's, that rows committed here which a leader elsewhere must
	// hear of. Both hold at most one signal: signals coalesce.
	wake, forward chan struct{}
	// deaf relays do not hear this process's commits (tests: a relay in
	// "another process").
	deaf bool
}

// NewRelay returns a relay publishing pool's outbox through w.
func NewRelay(pool *pgxpool.Pool, w Writer, opts RelayOptions) *Relay {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if opts.IdleInterval <= 0 {
		opts.IdleInterval = 5 * time.Second
	}
	return &Relay{pool: pool, w: w, opts: opts, wake: make(chan struct{}, 1), forward: make(chan struct{}, 1)}
}

// Run publishes until ctx is done, then returns nil. Database and Kafka
// failures are logged and retried; they never lose an event.
//
// The relay reads the outbox when woken, not on a clock: a transaction of
// this process that appended events wakes it as it commits
// (postgres.OnCommit); a standby replica's relay passes such wake-ups on to
// the leader with a NOTIFY, which the leader LISTENs for on the connection
// that holds its lock. Failing those, it reads every IdleInterval.
func (r *Relay) Run(ctx context.Context) error {
	in := metrics()
	svc := attribute.String("service", r.opts.Service)
	reg, err := otel.Meter(instrumentation).RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if r.leading.Load() {
			o.ObserveInt64(in.backlog, r.backlog.Load(), metric.WithAttributes(svc))
			o.ObserveFloat64(in.age, math.Float64frombits(r.ageBits.Load()), metric.WithAttributes(svc))
		}
		return nil
	}, in.backlog, in.age)
	if err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	// A series at zero, for an alert on its increase.
	in.unwoken.Add(ctx, 0, metric.WithAttributes(svc))
	if !r.deaf {
		defer postgres.OnCommit(outboxMark, r.committed)()
	}
	fctx, stopForwarding := context.WithCancel(ctx)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		r.forwardCommits(fctx)
	}()
	defer func() {
		stopForwarding()
		<-forwarded
	}()
	for {
		conn, err := r.acquireLeadership(ctx)
		if err != nil {
			return nil // only ctx ends the wait
		}
		err = r.lead(ctx, conn)
		r.leading.Store(false)
		r.resign(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		slog.WarnContext(ctx, "events: relay lost leadership", "service", r.opts.Service, "err", err)
		if !sleep(ctx, leaderRetry) {
			return nil
		}
	}
}

// committed runs after a transaction of this process that appended outbox
// rows committed: the leader reads them; a standby tells the leader.
func (r *Relay) committed() {
	ch := r.forward
	if r.leading.Load() {
		ch = r.wake
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// forwardCommits notifies the leading relay, wherever it runs, of the
// commits a standby relay hears of, at most once per PollInterval.
func (r *Relay) forwardCommits(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.forward:
		}
		if _, err := r.pool.Exec(ctx, `select pg_notify($1, '')`, outboxChannel); err != nil && ctx.Err() == nil {
			slog.WarnContext(ctx, "events: relay notify", "service", r.opts.Service, "err", err)
		}
		if !sleep(ctx, r.opts.PollInterval) {
			return
		}
	}
}

// acquireLeadership waits until this relay holds the lock. The lock lives in
// a session, so the connection holding it is kept out of the pool for as long
// as this relay leads; if the process dies, the server drops the session and
// the lock with it, and a standby takes over within leaderRetry.
func (r *Relay) acquireLeadership(ctx context.Context) (*pgxpool.Conn, error) {
	for {
		conn, err := r.pool.Acquire(ctx)
		if err == nil {
			var got bool
			if err = conn.QueryRow(ctx, `select pg_try_advisory_lock($1)`, relayLockKey).Scan(&got); err == nil && got {
				return conn, nil
			}
			conn.Release()
		}
		if err != nil && ctx.Err() == nil {
			slog.WarnContext(ctx, "events: relay election", "service", r.opts.Service, "err", err)
		}
		if !sleep(ctx, leaderRetry) {
			return nil, ctx.Err()
		}
	}
}

// resign stops listening, unlocks and returns the connection; if that
// fails the connection is closed instead, which releases the lock just as
// well and keeps a locked or listening session out of the pool.
func (r *Relay) resign(ctx context.Context, conn *pgxpool.Conn) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(uctx, `unlisten *; select pg_advisory_unlock(`+strconv.FormatInt(relayLockKey, 10)+`)`); err != nil {
		_ = conn.Conn().Close(uctx)
	}
	conn.Release()
}

// lead publishes batches while this relay holds the lock. It returns when ctx
// ends or the lock's connection is lost.
func (r *Relay) lead(ctx context.Context, lock *pgxpool.Conn) error {
	// Listening starts before the first read, so no commit falls between.
	if _, err := lock.Exec(ctx, `listen `+outboxChannel); err != nil {
		return fmt.Errorf("events: relay listen: %w", err)
	}
	r.leading.Store(true)
	lctx, stopListening := context.WithCancel(ctx)
	// Batches run in a context that the listener cancels when the lock's
	// connection fails: another relay may lead by now and publish the same
	// rows, so the batch in flight stops at once.
	bctx, lostLock := context.WithCancelCause(ctx)
	defer lostLock(nil)
	lost := make(chan error, 1)
	go func() {
		err := r.listen(lctx, lock)
		if lctx.Err() == nil {
			lostLock(err)
		}
		lost <- err
	}()
	defer func() {
		stopListening()
		// The listener returns once cancelled (or already has, with the
		// connection's error): the connection is free for resign.
		select {
		case <-lost:
		case <-time.After(5 * time.Second):
		}
	}()
	backoff := r.opts.PollInterval
	var (
		measured time.Time
		idle     bool // the last wait ended at IdleInterval, unwoken
	)
	for ctx.Err() == nil {
		began := time.Now()
		n, err := r.relayBatch(bctx)
		if bctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("events: relay lock connection: %w", context.Cause(bctx))
		}
		if idle && n > 0 && len(r.wake) == 0 {
			// Rows whose commit woke no relay (nor did while they were
			// published): a writer that OnCommit does not see.
			metrics().unwoken.Add(ctx, 1, metric.WithAttributes(attribute.String("service", r.opts.Service)))
		}
		idle = false
		switch {
		case err == nil && n == 0:
			// Nothing committed is waiting: report an empty outbox without a count.
			r.backlog.Store(0)
			r.ageBits.Store(0)
		case time.Since(measured) >= leaderRetry:
			// Also while Kafka fails: that is when the backlog matters most.
			r.measure(ctx)
			measured = time.Now()
		}
		wake := r.wake
		wait := r.opts.IdleInterval
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			slog.WarnContext(ctx, "events: relay batch", "service", r.opts.Service, "err", err)
			// New commits do not shorten the backoff: Kafka or the database
			// is failing, not idle.
			backoff = min(backoff*2, leaderRetry)
			wake, wait = nil, backoff
		case n == r.opts.BatchSize:
			continue // more is waiting: do not wait
		default:
			backoff = r.opts.PollInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case err := <-lost:
			t.Stop()
			lost <- err // for the deferred wait
			return fmt.Errorf("events: relay lock connection: %w", err)
		case <-wake:
		case <-t.C:
			idle = err == nil
		}
		t.Stop()
		if err != nil {
			continue
		}
		// Commits that keep coming are read together: at most one batch
		// that is not full per PollInterval.
		if rest := r.opts.PollInterval - time.Since(began); rest > 0 {
			sleep(ctx, rest)
		}
	}
	return ctx.Err()
}

// listen turns the notifications on the lock's connection into wake-ups
// until ctx ends or the connection fails, whose error it returns: the lock
// went with it.
func (r *Relay) listen(ctx context.Context, lock *pgxpool.Conn) error {
	for {
		if _, err := lock.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

type outboxRow struct {
	seq   int64
	event Event
	trace propagation.MapCarrier
}

// relayBatch publishes the oldest BatchSize rows in sequence order in one
// write, then deletes exactly the rows it published.
//
// Why delete the published rows rather than remember a high-water mark:
// sequence numbers are taken at insert, not at commit, so seq 10 may commit
// after seq 11. A relay that had published 11 and then skipped everything at
// or below 11 would lose 10; deleting what was sent leaves 10 in the table
// for the next poll. Reordering between 10 and 11 is harmless, because only
// events of different aggregates can commit out of seq order (see Append).
//
// A crash (or a failed write) after Kafka accepted some messages but before
// the delete only means those rows are published again; consumers drop the
// repeats by ce_id. Nothing is deleted before Kafka acknowledged it.
func (r *Relay) relayBatch(ctx context.Context) (int, error) {
	rows, err := r.read(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: read outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	prop := otel.GetTextMapPropagator()
	msgs := make([]kafka.Message, len(rows))
	spans := make([]trace.Span, len(rows))
	seqs := make([]int64, len(rows))
	for i, row := range rows {
		// The stored context makes the publish span a child of the request
		// that appended the event, however long ago that was.
		sctx, span := startProducerSpan(prop.Extract(ctx, row.trace), row.event)
		span.SetAttributes(attribute.Int64("rapport.outbox.seq", row.seq))
		spans[i], msgs[i], seqs[i] = span, ToMessage(sctx, row.event), row.seq
	}
	err = r.w.WriteMessages(ctx, msgs...)
	endProducerSpans(spans, err)
	if err != nil {
		return 0, fmt.Errorf("events: publish %d outbox rows: %w", len(rows), err)
	}
	metrics().published.Add(ctx, int64(len(rows)), metric.WithAttributes(attribute.String("service", r.opts.Service)))
	// Kafka has the events: finish the delete even if shutdown began, to spare
	// consumers a batch of repeats.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	b := &pgx.Batch{}
	for _, t := range byTenant(rows) {
		postgres.QueueTenant(b, t.tenant)
		b.Queue(`delete from outbox where seq = any($1)`, t.seqs)
	}
	if err := r.pool.SendBatch(dctx, b).Close(); err != nil {
		return 0, fmt.Errorf("events: delete %d published outbox rows: %w", len(rows), err)
	}
	return len(rows), nil
}

// read returns the oldest BatchSize rows in sequence order. Only
// system.outbox_pending sees across tenants, and it names the rows (their
// sequence numbers and tenants); each tenant's rows are read in its own
// scope, all in one pipeline: the app role never sees a tenant's events
// outside that tenant's scope.
func (r *Relay) read(ctx context.Context) ([]outboxRow, error) {
	pending, err := r.pool.Query(ctx, `select seq, tenant_id from system.outbox_pending($1)`, r.opts.BatchSize)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(pending, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		return o, row.Scan(&o.seq, &o.event.TenantID)
	})
	if err != nil || len(names) == 0 {
		return nil, err
	}
	rows := make([]outboxRow, 0, len(names))
	b := &pgx.Batch{}
	for _, t := range byTenant(names) {
		postgres.QueueTenant(b, t.tenant)
		b.Queue(`select seq, tenant_id, id, topic, key, type, subject, payload, headers, created_at
			from outbox where seq = any($1)`, t.seqs).Query(func(rs pgx.Rows) error {
			got, err := pgx.CollectRows(rs, scanOutboxRow)
			rows = append(rows, got...)
			return err
		})
	}
	if err := r.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b outboxRow) int { return cmp.Compare(a.seq, b.seq) })
	return rows, nil
}

func scanOutboxRow(row pgx.CollectableRow) (outboxRow, error) {
	var (
		o                   outboxRow
		tenant, id          uuid.UUID
		topic, typ, subject string
		key, payload        []byte
		headers             map[string]string
		created             time.Time
	)
	if err := row.Scan(&o.seq, &tenant, &id, &topic, &key, &typ, &subject, &payload, &headers, &created); err != nil {
		return o, err
	}
	o.event, o.trace = eventFromOutbox(tenant, id, topic, key, typ, subject, payload, headers, created)
	return o, nil
}

// tenantRows are the sequence numbers of one tenant's rows.
type tenantRows struct {
	tenant uuid.UUID
	seqs   []int64
}

// byTenant groups rows by tenant, in the order tenants first appear.
func byTenant(rows []outboxRow) []tenantRows {
	var out []tenantRows
	at := map[uuid.UUID]int{}
	for _, row := range rows {
		i, ok := at[row.event.TenantID]
		if !ok {
			i = len(out)
			at[row.event.TenantID] = i
			out = append(out, tenantRows{tenant: row.event.TenantID})
		}
		out[i].seqs = append(out[i].seqs, row.seq)
	}
	return out
}

// measure refreshes the backlog gauges. It counts the table, so it runs at
// most once per leaderRetry and only while there is something to count.
func (r *Relay) measure(ctx context.Context) {
	var (
		n   int64
		age float64
	)
	err := r.pool.QueryRow(ctx, `select waiting, age from system.outbox_backlog()`).Scan(&n, &age)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			slog.WarnContext(ctx, "events: measure outbox", "service", r.opts.Service, "err", err)
		}
		return
	}
	r.backlog.Store(n)
	r.ageBits.Store(math.Float64bits(age))
}

// sleep waits d or until ctx ends, and reports whether it waited the full d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
