package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

// brokenKafka fails every write, as a producer does while the cluster is away.
type brokenKafka struct{}

func (brokenKafka) WriteMessages(context.Context, ...kafka.Message) error {
	return errors.New("kafka: all brokers unreachable")
}

// While Kafka refuses writes the relay keeps every row and reports the
// backlog and its age, the signal an operator alerts on.
func TestRelayKeepsRowsAndReportsBacklogWhileKafkaFails(t *testing.T) {
	metricsReader()
	ctx := context.Background()
	pool := setupDB(t)
	tenant := uuid.New()
	evs := []events.Event{newEvent(t, "crm.stuck.events.v1", tenant, "a", 1), newEvent(t, "crm.stuck.events.v1", tenant, "a", 2),
		newEvent(t, "crm.stuck.events.v1", tenant, "b", 1)}
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error { return events.Append(ctx, tx, evs...) }); err != nil {
		t.Fatal(err)
	}
	stop := run(t, events.NewRelay(pool, brokenKafka{}, events.RelayOptions{Service: "stuck"}).Run)
	match := map[string]string{"service": "stuck"}
	waitFor(t, 10*time.Second, "the backlog gauges", func() bool {
		n, _ := sumPoints[int64](t, "events.outbox.backlog", match)
		age, _ := sumPoints[float64](t, "events.outbox.age", match)
		return n == 3 && age > 0
	})
	stop()
	var ids []uuid.UUID
	err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `select id from outbox order by seq`)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil || len(ids) != 3 || ids[0] != evs[0].ID || ids[1] != evs[1].ID || ids[2] != evs[2].ID {
		t.Fatalf("outbox after failed publishing: %v %v, want the 3 events in append order", ids, err)
	}
	if _, found := sumPoints[int64](t, "events.outbox.backlog", match); found {
		t.Fatal("a stopped relay still reports a backlog")
	}
}

// An idle relay does not poll the outbox: with nothing written it sends at
// most its safety-net read (one statement per IdleInterval), not a read
// every few milliseconds.
func TestIdleRelayLeavesTheDatabaseAlone(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform()); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	counter := &pgCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	r := events.NewRelay(pool, brokenKafka{}, events.RelayOptions{Service: "idle"})
	run(t, r.Run)
	waitFor(t, 10*time.Second, "the relay to lead", func() bool { return events.Leading(r) })
	time.Sleep(200 * time.Millisecond)
	before := counter.statements.Load()
	const idle = 3 * time.Second
	time.Sleep(idle)
	if n := counter.statements.Load() - before; n > int64(idle/events.IdleInterval(r))+1 {
		t.Fatalf("an idle relay sent %d statements in %s; want at most one per %s", n, idle, events.IdleInterval(r))
	}
}

// publishLatency appends one event in tenant's scope and returns how long
// after its commit the relay had published it (and emptied the outbox).
func publishLatency(t *testing.T, pool *pgxpool.Pool, topic string) time.Duration {
	t.Helper()
	ctx := context.Background()
	tenant := uuid.New()
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return events.Append(ctx, tx, newEvent(t, topic, tenant, "a", 1))
	}); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	for {
		var waiting int
		if err := pool.QueryRow(ctx, `select waiting from system.outbox_backlog()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return time.Since(committed)
		}
		if time.Since(committed) > 30*time.Second {
			t.Fatal("the event was not published in 30s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The commit wakes an idle relay: the event is published at once, not at
// the relay's next look (its safety net is seconds away).
func TestRelayPublishesAsSoonAsTheRowsCommit(t *testing.T) {
	pool := setupDB(t)
	const topic = "crm.prompt.events.v1"
	w := events.NewWriter(testenv.Kafka(t, topic))
	t.Cleanup(func() { _ = w.Close() })
	r := events.NewRelay(pool, w, events.RelayOptions{Service: "prompt"})
	run(t, r.Run)
	waitFor(t, 10*time.Second, "the relay to lead", func() bool { return events.Leading(r) })
	var worst time.Duration
	for range 5 {
		time.Sleep(300 * time.Millisecond) // idle again
		worst = max(worst, publishLatency(t, pool, topic))
	}
	t.Logf("slowest of 5 publishes: %s after the commit", worst)
	if worst > time.Second {
		t.Fatalf("an event was published %s after its commit", worst)
	}
}

// A relay that does not lead passes the commits of its process on to the
// leader, wherever that runs (here: one that hears nothing of this
// process), with a NOTIFY on the leader's lock connection.
func TestStandbyRelayWakesTheLeaderInAnotherProcess(t *testing.T) {
	pool := setupDB(t)
	const topic = "crm.far.events.v1"
	w := events.NewWriter(testenv.Kafka(t, topic))
	t.Cleanup(func() { _ = w.Close() })
	leader := events.Deaf(events.NewRelay(pool, w, events.RelayOptions{Service: "far"}))
	run(t, leader.Run)
	waitFor(t, 10*time.Second, "the leader to lead", func() bool { return events.Leading(leader) })
	time.Sleep(300 * time.Millisecond)
	// Alone, the deaf leader finds the event only at its next safety-net read.
	if d := publishLatency(t, pool, topic); d < time.Second {
		t.Fatalf("a leader that hears nothing published %s after the commit: the test cannot tell a NOTIFY from it", d)
	}
	standby := events.NewRelay(pool, w, events.RelayOptions{Service: "near"})
	run(t, standby.Run)
	time.Sleep(300 * time.Millisecond)
	if events.Leading(standby) {
		t.Fatal("the standby leads")
	}
	var worst time.Duration
	for range 3 {
		worst = max(worst, publishLatency(t, pool, topic))
		time.Sleep(100 * time.Millisecond)
	}
	if worst > time.Second {
		t.Fatalf("with a standby in the writing process an event was published %s after its commit", worst)
	}
}

// Every write through postgres.InTenant or InTenantBatch wakes the relay as
// it commits, so no idle-timer read ever finds its rows; a write the relay
// does not hear of (here: a transaction of its own) is found by that read,
// late, and counted, so that it cannot go unnoticed.
func TestOrdinaryWritesNeverWaitForTheIdleRead(t *testing.T) {
	metricsReader()
	ctx := context.Background()
	pool := setupDB(t)
	const topic = "crm.woken.events.v1"
	w := events.NewWriter(testenv.Kafka(t, topic))
	t.Cleanup(func() { _ = w.Close() })
	// Idle reads come often, so a write they find is no rare race.
	svc := "woken-" + uuid.NewString() // counters outlive a test run
	r := events.NewRelay(pool, w, events.RelayOptions{Service: svc, IdleInterval: 100 * time.Millisecond})
	run(t, r.Run)
	match := map[string]string{"service": svc}
	waitFor(t, 10*time.Second, "the relay to lead", func() bool { return events.Leading(r) })
	if n, found := sumInt64(t, "events.relay.unwoken_reads", match); !found || n != 0 {
		t.Fatalf("unwoken reads at start: %d (found %v), want a series at 0", n, found)
	}
	published := func() {
		t.Helper()
		waitFor(t, 10*time.Second, "the outbox to empty", func() bool {
			var waiting int
			if err := pool.QueryRow(ctx, `select waiting from system.outbox_backlog()`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			return waiting == 0
		})
	}
	tenant := uuid.New()
	for i := range 12 {
		time.Sleep(150 * time.Millisecond) // past an idle read
		e := newEvent(t, topic, tenant, "a", int64(i+1))
		var err error
		if i%2 == 0 {
			err = postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error { return events.Append(ctx, tx, e) })
		} else {
			b := &pgx.Batch{}
			if err = events.QueueAppend(ctx, b, e); err == nil {
				err = postgres.InTenantBatch(ctx, pool, tenant, b)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		published()
	}
	if n, _ := sumInt64(t, "events.relay.unwoken_reads", match); n != 0 {
		t.Fatalf("%d idle-timer reads found rows of ordinary writes", n)
	}

	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `select set_config('app.tenant_id', $1, true)`, tenant.String())
		if err == nil {
			_, err = tx.Exec(ctx, `insert into outbox (tenant_id, id, topic, key, type, subject, payload, headers)
				values ($1, $2, $3, '', 'crm.test.happened', 'b', '', '{"ce_source":"/rapport/test"}')`, tenant, uuid.New(), topic)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	published()
	if n, _ := sumInt64(t, "events.relay.unwoken_reads", match); n != 1 {
		t.Fatalf("a write the relay did not hear of: %d unwoken reads counted, want 1", n)
	}
}

// stalledKafka holds every write until its context ends, as a broker that
// stopped answering does, and reports each write it was made to give up.
type stalledKafka struct{ entered, cancelled chan struct{} }

func (k *stalledKafka) WriteMessages(ctx context.Context, _ ...kafka.Message) error {
	select {
	case k.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	select {
	case k.cancelled <- struct{}{}:
	default:
	}
	return ctx.Err()
}

// A leader whose lock's connection is lost stops the batch it is
// publishing at once: another relay may already lead and publish the same
// rows.
func TestRelayStopsPublishingWhenItsLockIsLost(t *testing.T) {
	ctx := context.Background()
	pool := setupDB(t)
	tenant := uuid.New()
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return events.Append(ctx, tx, newEvent(t, "crm.lost.events.v1", tenant, "a", 1))
	}); err != nil {
		t.Fatal(err)
	}
	k := &stalledKafka{entered: make(chan struct{}, 1), cancelled: make(chan struct{}, 1)}
	run(t, events.NewRelay(pool, k, events.RelayOptions{Service: "lost"}).Run)
	select {
	case <-k.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay never published")
	}
	rows, _ := pool.Query(ctx, `select pg_terminate_backend(pid) from pg_locks
		where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`)
	killed, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil || len(killed) != 1 || !killed[0] {
		t.Fatalf("terminating the lock's session: %v %v", killed, err)
	}
	select {
	case <-k.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the batch in flight went on publishing after the relay's lock was lost")
	}
}
