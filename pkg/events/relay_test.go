package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

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
