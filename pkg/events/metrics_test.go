package events_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
)

// A stalled consumer's lag keeps growing as events arrive, on every
// partition of its topics (idle ones report 0), measured from the broker
// rather than from the messages it fetches; and its dead-letter counter
// exists at 0 before anything failed, so that an alert on its increase has a
// series to start from.
func TestConsumerLagGrowsWhileStalledAndTheDLQCountStartsAtZero(t *testing.T) {
	metricsReader()
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.stall.events.v1", "stall"
	brokers := testenv.Kafka(t, topic, events.DLQTopic(group))
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })
	tenant := uuid.New()

	entered, release := make(chan struct{}, 1), make(chan struct{})
	c := newConsumer(t, events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool, DLQ: w,
		Concurrency: 1, LagInterval: 100 * time.Millisecond,
		Handler: func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	run(t, c.Run)
	labels := map[string]string{"group": group, "topic": topic}
	waitFor(t, 10*time.Second, "the dead-letter counter at 0", func() bool {
		n, found := sumInt64(t, "events.dlq", labels)
		return found && n == 0
	})

	if err := events.Publish(ctx, w, newEvent(t, topic, tenant, "stuck", 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler never saw the first event")
	}
	const more = 20
	for i := range more {
		if err := events.Publish(ctx, w, newEvent(t, topic, tenant, "stuck", int64(i+2))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the stalled partition's lag to count what arrived", func() bool {
		n, _ := sumInt64(t, "events.consumer.lag", labels)
		return n >= more
	})
	for p := range 3 {
		if _, found := sumInt64(t, "events.consumer.lag", map[string]string{"group": group, "topic": topic, "partition": strconv.Itoa(p)}); !found {
			t.Errorf("no lag reported for partition %d", p)
		}
	}

	close(release)
	waitFor(t, 30*time.Second, "the lag to fall back to 0", func() bool {
		n, found := sumInt64(t, "events.consumer.lag", labels)
		return found && n == 0
	})
}
