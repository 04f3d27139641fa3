package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

// The outbox, the relay and the consumer together deliver every event's
// effect exactly once and in order per aggregate, although the relay dies in
// the middle of a batch and a consumer dies between committing an effect and
// committing its offset.
func TestEveryEventTakesEffectOnceInOrderDespiteCrashes(t *testing.T) {
	metricsReader()
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.delivery.events.v1", "delivery"
	brokers := testenv.Kafka(t, topic, events.DLQTopic(group))
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })

	const tenantsN, aggsPerTenant, perAgg, perTx = 4, 25, 100, 50
	const total = tenantsN * aggsPerTenant * perAgg
	tenants := make([]uuid.UUID, tenantsN)
	for i := range tenants {
		tenants[i] = uuid.New()
	}

	// The handler counts its real failures: a second application of an
	// event would fail on effects' unique event_id.
	var failures atomic.Int64
	handler := func(ctx context.Context, tx pgx.Tx, e events.Event) error {
		err := applyEffect(ctx, tx, e)
		if err != nil && ctx.Err() == nil {
			failures.Add(1)
			t.Errorf("handler: %v", err)
		}
		return err
	}
	cfg := events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool,
		Handler: handler, DLQ: w, Backoff: 10 * time.Millisecond, LagInterval: 100 * time.Millisecond}

	// Consumer 1 crashes right after its 3000th transaction committed, before
	// that message's offset is committed.
	c1 := newConsumer(t, cfg)
	var handled atomic.Int64
	c1ctx, crash := context.WithCancel(ctx)
	defer crash()
	events.SetAfterEffect(c1, func() {
		if handled.Add(1) == 3000 {
			crash()
		}
	})
	c1done := make(chan error, 1)
	go func() { c1done <- c1.Run(c1ctx) }()

	// Services append in many concurrent transactions; per tenant, one
	// writer, so each aggregate's sequence numbers are appended in order.
	var appends sync.WaitGroup
	for ti, tenant := range tenants {
		appends.Add(1)
		go func() {
			defer appends.Done()
			for txn := 0; txn < aggsPerTenant*perAgg/perTx; txn++ {
				evs := make([]events.Event, 0, perTx)
				for k := range perTx {
					i := txn*perTx + k
					evs = append(evs, newEvent(t, topic, tenant, fmt.Sprintf("t%d-a%02d", ti, i%aggsPerTenant), int64(i/aggsPerTenant+1)))
				}
				err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error { return events.Append(ctx, tx, evs...) })
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}

	// Relay 1 leads and dies on its third write after half the batch reached
	// Kafka; relay 2, a standby replica, then wins the lock and finishes.
	r1ctx, killRelay := context.WithCancel(ctx)
	defer killRelay()
	kw := &killingWriter{w: w, fuse: 3, kill: killRelay}
	r1done := make(chan error, 1)
	go func() { r1done <- events.NewRelay(pool, kw, events.RelayOptions{Service: "test"}).Run(r1ctx) }()
	waitFor(t, 20*time.Second, "relay 1 to lead", func() bool { return kw.calls.Load() > 0 })
	run(t, events.NewRelay(pool, w, events.RelayOptions{Service: "test"}).Run)
	select {
	case err := <-r1done:
		if err != nil || !kw.killed.Load() {
			t.Fatalf("relay 1 returned %v, killed %v", err, kw.killed.Load())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("relay 1 was never killed")
	}

	select {
	case err := <-c1done:
		if err != nil {
			t.Fatalf("consumer 1 returned %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("consumer 1 did not crash")
	}
	t.Logf("relay 1 wrote %d times; consumer 1 handled %d", kw.calls.Load(), handled.Load())
	if n, _ := effectStats(t, pool, tenants); n >= total {
		t.Fatalf("consumer 1 applied %d effects before its crash; the test needs it to stop midway", n)
	}

	// A fresh consumer in the same group takes over from the committed offsets.
	c2 := newConsumer(t, cfg)
	stopC2 := run(t, c2.Run)
	appends.Wait()
	waitFor(t, 60*time.Second, "all effects", func() bool {
		n, _ := effectStats(t, pool, tenants)
		return n >= total
	})
	waitFor(t, 10*time.Second, "an empty outbox", func() bool {
		var n int
		err := pool.QueryRow(ctx, `select waiting from system.outbox_backlog()`).Scan(&n)
		return err == nil && n == 0
	})
	// Caught up, the group reports no lag on any partition.
	waitFor(t, 10*time.Second, "the consumer lag at 0", func() bool {
		n, found := sumInt64(t, "events.consumer.lag", map[string]string{"group": group, "topic": topic})
		return found && n == 0
	})
	stopC2()

	n, misordered := effectStats(t, pool, tenants)
	if n != total || misordered != 0 {
		t.Fatalf("have %d effects, %d out of order; want %d, 0", n, misordered, total)
	}
	for _, tenant := range tenants {
		var aggs, wrong int
		_ = postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select count(*), count(*) filter (where n <> $1) from counters`, perAgg).Scan(&aggs, &wrong)
		})
		if aggs != aggsPerTenant || wrong != 0 {
			t.Fatalf("tenant %s: %d aggregates, %d with a count other than %d", tenant, aggs, wrong, perAgg)
		}
	}
	var inbox int
	for _, tenant := range tenants {
		var n int
		_ = postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select count(*) from inbox where consumer = $1`, group).Scan(&n)
		})
		inbox += n
	}
	if inbox != total || failures.Load() != 0 {
		t.Fatalf("have %d inbox rows and %d handler failures, want %d and 0", inbox, failures.Load(), total)
	}
	if dlq := readTopic(t, brokers, events.DLQTopic(group)); len(dlq) != 0 {
		t.Fatalf("%d messages dead-lettered", len(dlq))
	}
	// Both crashes caused redeliveries, and the inbox absorbed them.
	if dups, _ := sumInt64(t, "events.consumed", map[string]string{"group": group, "outcome": "duplicate"}); dups == 0 {
		t.Fatal("no duplicate delivery was seen; the crashes did not happen where intended")
	}
	dups, _ := sumInt64(t, "events.consumed", map[string]string{"group": group, "outcome": "duplicate"})
	t.Logf("%d duplicate deliveries absorbed", dups)
	// A member whose context is cancelled while its commit is in flight may
	// not learn that the commit landed: that event is counted as a duplicate
	// on redelivery, so up to one per member can be missing from "applied".
	if applied, _ := sumInt64(t, "events.consumed", map[string]string{"group": group, "outcome": "applied"}); applied > total || applied < total-3 {
		t.Fatalf("events.consumed{outcome=applied} = %d, want %d (at most 3 fewer)", applied, total)
	}
	if published, _ := sumInt64(t, "events.relay.published", map[string]string{"service": "test"}); published < total {
		t.Fatalf("events.relay.published = %d, want at least %d", published, total)
	}
}

// A message that keeps failing, one that crashes its handler, and one that is
// not an event at all go to the group's dead-letter topic with the reason, and
// the messages behind them on the same partition are still processed.
func TestPoisonMessagesGoToTheDeadLetterTopic(t *testing.T) {
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.poison.events.v1", "poison"
	brokers := testenv.Kafka(t, topic, events.DLQTopic(group))
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })

	tenant := uuid.New()
	const agg = "contact-1" // one key: everything below shares a partition
	before := newEvent(t, topic, tenant, agg, 1)
	poison := newEvent(t, topic, tenant, agg, 2)
	crash := newEvent(t, topic, tenant, agg, 2)
	after1 := newEvent(t, topic, tenant, agg, 2)
	after2 := newEvent(t, topic, tenant, agg, 3)
	var poisonAttempts atomic.Int64
	handler := func(ctx context.Context, tx pgx.Tx, e events.Event) error {
		if e.ID == poison.ID {
			poisonAttempts.Add(1)
			return errors.New("contact-1 cannot be merged into itself")
		}
		if e.ID == crash.ID {
			var projection map[string]int
			projection[e.Type]++ // a handler bug: assignment to a nil map
		}
		return applyEffect(ctx, tx, e)
	}
	if err := events.Publish(ctx, w, before, poison, crash, after1); err != nil {
		t.Fatal(err)
	}
	garbage := kafka.Message{Topic: topic, Key: []byte(agg), Value: []byte("not protobuf, no headers")}
	if err := w.WriteMessages(ctx, garbage); err != nil {
		t.Fatal(err)
	}
	if err := events.Publish(ctx, w, after2); err != nil {
		t.Fatal(err)
	}

	c := newConsumer(t, events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool,
		Handler: handler, DLQ: w, MaxAttempts: 3, Backoff: 5 * time.Millisecond, Concurrency: 1})
	stop := run(t, c.Run)
	waitFor(t, 30*time.Second, "the messages behind the poison", func() bool {
		n, _ := effectStats(t, pool, []uuid.UUID{tenant})
		return n == 3
	})
	stop()
	if n, misordered := effectStats(t, pool, []uuid.UUID{tenant}); n != 3 || misordered != 0 {
		t.Fatalf("have %d effects, %d out of order; want 3, 0", n, misordered)
	}
	if poisonAttempts.Load() != 3 {
		t.Fatalf("handler tried the poison %d times, want MaxAttempts = 3", poisonAttempts.Load())
	}

	dlq := readTopic(t, brokers, events.DLQTopic(group))
	if len(dlq) != 3 {
		t.Fatalf("have %d dead letters, want 3", len(dlq))
	}
	header := func(m kafka.Message, k string) string {
		for _, h := range m.Headers {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return ""
	}
	for i, want := range []struct{ id, errPart, attempts, offset string }{
		{poison.ID.String(), "cannot be merged", "3", "1"},
		{crash.ID.String(), "panicked", "3", "2"},
		{"", "malformed", "0", "4"},
	} {
		m := dlq[i]
		have := struct{ id, errPart, attempts, offset string }{header(m, events.HeaderID), want.errPart, header(m, "dlq_attempts"), header(m, "dlq_offset")}
		if !strings.Contains(header(m, "dlq_error"), want.errPart) {
			have.errPart = header(m, "dlq_error")
		}
		if have != want || header(m, "dlq_group") != group || header(m, "dlq_topic") != topic || header(m, "dlq_partition") == "" || string(m.Key) != agg {
			t.Errorf("dead letter %d: have %+v headers %v, want %+v", i, have, m.Headers, want)
		}
	}
	if ev, err := events.FromMessage(dlq[0]); err != nil || ev.ID != poison.ID || ev.TenantID != tenant {
		t.Errorf("the dead letter is not the original event: %v %v", ev.ID, err)
	}
}

// Redelivering events a consumer already processed (as a relay does after a
// crash) calls no handler and changes nothing.
func TestRedeliveryChangesNothing(t *testing.T) {
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.redelivery.events.v1", "redelivery"
	brokers := testenv.Kafka(t, topic, events.DLQTopic(group))
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })

	tenant := uuid.New()
	var evs []events.Event
	for i := range 20 {
		evs = append(evs, newEvent(t, topic, tenant, fmt.Sprintf("deal-%d", i%4), int64(i/4+1)))
	}
	var calls atomic.Int64
	handler := func(ctx context.Context, tx pgx.Tx, e events.Event) error {
		calls.Add(1)
		return applyEffect(ctx, tx, e)
	}
	c := newConsumer(t, events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool,
		Handler: handler, DLQ: w})
	var finished atomic.Int64
	events.SetAfterEffect(c, func() { finished.Add(1) })
	run(t, c.Run)

	if err := events.Publish(ctx, w, evs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "first delivery", func() bool { return finished.Load() == int64(len(evs)) })
	snapshot := func() string {
		var s string
		_ = postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select (select string_agg(event_id::text || ':' || position, ',' order by event_id) from effects)
  || '|' || (select string_agg(aggregate || '=' || n, ',' order by aggregate) from counters)`).Scan(&s)
		})
		return s
	}
	first := snapshot()

	if err := events.Publish(ctx, w, evs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "redelivery", func() bool { return finished.Load() == 2*int64(len(evs)) })
	if calls.Load() != int64(len(evs)) {
		t.Fatalf("handler called %d times for %d events", calls.Load(), len(evs))
	}
	if again := snapshot(); again != first || first == "" {
		t.Fatalf("state changed on redelivery:\n%s\n%s", first, again)
	}
}

// A filtered consumer handles only the events it picks; the others pass
// without a transaction or an inbox row, and the offsets still move on.
func TestFilterSkipsWithoutATransaction(t *testing.T) {
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.filter.events.v1", "filter"
	brokers := testenv.Kafka(t, topic, events.DLQTopic(group))
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })
	tenant := uuid.New()
	var evs []events.Event
	for i := range 10 {
		evs = append(evs, newEvent(t, topic, tenant, "deal-1", int64(i+1)))
	}
	picked := map[uuid.UUID]bool{evs[1].ID: true, evs[9].ID: true}
	var calls atomic.Int64
	c := newConsumer(t, events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool, DLQ: w,
		Filter: func(e events.Event) bool { return picked[e.ID] },
		Handler: func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			calls.Add(1)
			return nil
		}})
	stop := run(t, c.Run)
	if err := events.Publish(ctx, w, evs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the picked events", func() bool { return calls.Load() == 2 })
	stop()
	var inbox int
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select count(*) from inbox`).Scan(&inbox)
	}); err != nil || inbox != 2 {
		t.Fatalf("inbox rows %d (%v), want 2", inbox, err)
	}
}
