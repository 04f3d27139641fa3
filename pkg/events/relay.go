package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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

// leaderRetry is how often a standby replica asks for the lock, and how often
// the leader checks that its lock's connection is still alive.
const leaderRetry = time.Second

// RelayOptions tunes a relay; zero values take the defaults.
type RelayOptions struct {
	// BatchSize is the most rows read and published at once (default 500).
	// Keep it at or below the writer's BatchSize (NewWriter: 1000).
	BatchSize int
	// PollInterval is the wait after a batch that was not full (default 20ms).
	PollInterval time.Duration
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
}

// NewRelay returns a relay publishing pool's outbox through w.
func NewRelay(pool *pgxpool.Pool, w Writer, opts RelayOptions) *Relay {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	return &Relay{pool: pool, w: w, opts: opts}
}

// Run publishes until ctx is done, then returns nil. Database and Kafka
// failures are logged and retried; they never lose an event.
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

// resign unlocks and returns the connection; if unlocking fails the
// connection is closed instead, which releases the lock just as well and
// keeps a locked session out of the pool.
func (r *Relay) resign(ctx context.Context, conn *pgxpool.Conn) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(uctx, `select pg_advisory_unlock($1)`, relayLockKey); err != nil {
		_ = conn.Conn().Close(uctx)
	}
	conn.Release()
}

// lead publishes batches while this relay holds the lock. It returns when ctx
// ends or the lock's connection is lost.
func (r *Relay) lead(ctx context.Context, lock *pgxpool.Conn) error {
	r.leading.Store(true)
	backoff := r.opts.PollInterval
	var checked, measured time.Time
	for ctx.Err() == nil {
		if time.Since(checked) >= leaderRetry {
			if err := lock.Ping(ctx); err != nil {
				return fmt.Errorf("events: relay lock connection: %w", err)
			}
			checked = time.Now()
		}
		n, err := r.relayBatch(ctx)
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
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			slog.WarnContext(ctx, "events: relay batch", "service", r.opts.Service, "err", err)
			backoff = min(backoff*2, leaderRetry)
			sleep(ctx, backoff)
			continue
		}
		backoff = r.opts.PollInterval
		if n == r.opts.BatchSize {
			continue // more is waiting: do not sleep
		}
		sleep(ctx, r.opts.PollInterval)
	}
	return ctx.Err()
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
	var rows []outboxRow
	err := postgres.InSystem(ctx, r.pool, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, `
select seq, tenant_id, id, topic, key, type, subject, payload, headers, created_at
from outbox order by seq limit $1`, r.opts.BatchSize)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(rs, func(row pgx.CollectableRow) (outboxRow, error) {
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
		})
		return err
	})
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
	err = postgres.InSystem(dctx, r.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(dctx, `delete from outbox where seq = any($1)`, seqs)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("events: delete %d published outbox rows: %w", len(rows), err)
	}
	return len(rows), nil
}

// measure refreshes the backlog gauges. It counts the table, so it runs at
// most once per leaderRetry and only while there is something to count.
func (r *Relay) measure(ctx context.Context) {
	var (
		n   int64
		age float64
	)
	err := postgres.InSystem(ctx, r.pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
select count(*), coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8
from outbox`).Scan(&n, &age)
	})
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
