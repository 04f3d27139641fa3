package events_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

// pgCounter counts what a pool sends: round trips (a statement, or a
// whole pipeline, which the client waits for once) and statements (batched
// or not).
type pgCounter struct{ trips, statements atomic.Int64 }

func (c *pgCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.trips.Add(1)
	c.statements.Add(1)
	return ctx
}
func (c *pgCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *pgCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.trips.Add(1)
	return ctx
}
func (c *pgCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.statements.Add(1)
}
func (c *pgCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedPool is an app-role pool on a migrated database whose statements
// tracer sees.
func tracedPool(t *testing.T, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform()); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// A bulk append (an import's events) reaches the database in one round
// trip however many insert statements it takes, and the rows keep the
// argument order.
func TestLargeAppendIsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	trips := &pgCounter{}
	pool := tracedPool(t, trips)
	tenant := uuid.New()
	evs := make([]events.Event, 2500)
	for i := range evs {
		evs[i] = newEvent(t, "crm.bulk.events.v1", tenant, "a", int64(i+1))
	}
	var sent int64
	err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		before := trips.trips.Load()
		err := events.Append(ctx, tx, evs...)
		sent = trips.trips.Load() - before
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent != 1 {
		t.Errorf("appending %d events took %d round trips, want 1", len(evs), sent)
	}
	var ids []uuid.UUID
	err = postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `select id from outbox order by seq`)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(evs) {
		t.Fatalf("%d outbox rows, want %d", len(ids), len(evs))
	}
	for i, id := range ids {
		if id != evs[i].ID {
			t.Fatalf("outbox row %d is event %s, want %s: the rows left the argument order", i, id, evs[i].ID)
		}
	}
}
