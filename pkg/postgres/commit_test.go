package postgres_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// A watcher hears of every commit of a transaction that sent its mark, in
// whatever way the statement went (alone, in a batch, inside a chain, in a
// savepoint), once per commit, and of nothing else.
func TestOnCommitHearsCommitsOfMarkedStatements(t *testing.T) {
	ctx, p := setup(t)
	tenant := uuid.New()
	var calls atomic.Int64
	stop := postgres.OnCommit("insert into notes", func() { calls.Add(1) })
	defer stop()
	insert := func(id int) *pgx.QueuedQuery {
		return &pgx.QueuedQuery{SQL: `insert into notes (tenant_id, id, body) values ($1, $2, 'x')`, Arguments: []any{tenant, id}}
	}
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		run  func() error
		want int64
	}{
		{"exec, twice in one transaction", func() error {
			return postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, insert(1).SQL, insert(1).Arguments...); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, insert(2).SQL, insert(2).Arguments...)
				return err
			})
		}, 1},
		{"a batch in a transaction", func() error {
			return postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
				b := &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{insert(3)}}
				return tx.SendBatch(ctx, b).Close()
			})
		}, 1},
		{"a savepoint", func() error {
			return postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
				sp, err := tx.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := sp.Exec(ctx, insert(4).SQL, insert(4).Arguments...); err != nil {
					return err
				}
				return sp.Commit(ctx)
			})
		}, 1},
		{"a chained pipeline", func() error {
			b := &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{postgres.Chain(insert(5), insert(6))}}
			return postgres.InTenantBatch(ctx, p.Pool, tenant, b)
		}, 1},
		{"a rolled back transaction", func() error {
			err := postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, insert(7).SQL, insert(7).Arguments...); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				return err
			}
			return nil
		}, 0},
		{"a failed pipeline", func() error {
			b := &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{insert(1)}} // a duplicate key
			if err := postgres.InTenantBatch(ctx, p.Pool, tenant, b); err == nil {
				return errors.New("the duplicate was stored")
			}
			return nil
		}, 0},
		{"other statements", func() error {
			return postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `update notes set body = 'y' where id = 1`)
				return err
			})
		}, 0},
	} {
		before := calls.Load()
		if err := c.run(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if have := calls.Load() - before; have != c.want {
			t.Errorf("%s: the watcher was called %d times, want %d", c.name, have, c.want)
		}
	}
	stop()
	before := calls.Load()
	if err := postgres.InTenantBatch(ctx, p.Pool, tenant, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{insert(8)}}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before {
		t.Error("a stopped watcher was called")
	}
}
