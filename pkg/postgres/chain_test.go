package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

func TestChainRenumbersParameters(t *testing.T) {
	a := &pgx.QueuedQuery{SQL: "insert into a values ($1, $2)", Arguments: []any{1, 2}}
	b := &pgx.QueuedQuery{SQL: "insert into b select $1 from unnest($2::int[]) where $1 > $10", Arguments: []any{3, []int{4}}}
	c := postgres.Chain(a, b)
	want := "with w0 as (insert into a values ($1, $2)), w1 as (insert into b select $3 from unnest($4::int[]) where $3 > $12) select"
	if c.SQL != want || len(c.Arguments) != 4 || c.Arguments[2] != 3 {
		t.Fatalf("have %q %v", c.SQL, c.Arguments)
	}
	if one := postgres.Chain(a); one != a {
		t.Fatal("a chain of one is the statement itself")
	}
}

// A chained write runs every statement, under row-level security, in one
// statement of the pipeline; a failing one fails them all.
func TestChainWritesEveryTable(t *testing.T) {
	ctx := context.Background()
	pool := testenv.AppPool(t, testenv.TenantTables("chain", "a (tenant_id uuid not null, n int not null)",
		"b (tenant_id uuid not null, n int not null check (n > 0))"))
	tenant := uuid.New()
	write := func(n int) error {
		batch := &pgx.Batch{}
		batch.QueuedQueries = append(batch.QueuedQueries, postgres.Chain(
			&pgx.QueuedQuery{SQL: "insert into a (tenant_id, n) values ($1, $2)", Arguments: []any{tenant, n}},
			&pgx.QueuedQuery{SQL: "insert into b (tenant_id, n) select $1, x from unnest($2::int[]) x", Arguments: []any{tenant, []int{n, n + 1}}}))
		return postgres.InTenantBatch(ctx, pool, tenant, batch)
	}
	if err := write(1); err != nil {
		t.Fatal(err)
	}
	if err := write(-5); err == nil {
		t.Fatal("a failing statement in the chain did not fail it")
	}
	var na, nb int
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select (select count(*) from a), (select count(*) from b)").Scan(&na, &nb)
	}); err != nil {
		t.Fatal(err)
	}
	if na != 1 || nb != 2 {
		t.Fatalf("a %d rows, b %d rows; want 1 and 2", na, nb)
	}
}

// A checked chain fails its writes when the check fails; the first query
// of InTenantBatchWith runs in the scoping statement, before the rest.
func TestChainCheckedAndFirstQuery(t *testing.T) {
	ctx := context.Background()
	pool := testenv.AppPool(t, testenv.TenantTables("checked", "a (tenant_id uuid not null, n int not null)"))
	tenant := uuid.New()
	write := func(divisor int) error {
		lock := &pgx.QueuedQuery{SQL: "select pg_advisory_xact_lock($1)::text", Arguments: []any{int64(42)}}
		batch := &pgx.Batch{}
		batch.QueuedQueries = append(batch.QueuedQueries, postgres.ChainChecked(
			&pgx.QueuedQuery{SQL: "select 1 / $1::int", Arguments: []any{divisor}},
			// Counts the advisory locks this transaction holds by now.
			&pgx.QueuedQuery{SQL: `insert into a (tenant_id, n) select $1, count(*) from pg_locks
				where locktype = 'advisory' and pid = pg_backend_pid()`, Arguments: []any{tenant}}))
		return postgres.InTenantBatchWith(ctx, pool, tenant, lock, batch)
	}
	if err := write(0); err == nil {
		t.Fatal("a failing check did not fail the chain")
	}
	if err := write(1); err != nil {
		t.Fatal(err)
	}
	var rows, locks int
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select count(*), coalesce(max(n), 0) from a").Scan(&rows, &locks)
	}); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || locks != 1 {
		t.Fatalf("%d rows (want 1), the lock seen %d times (want 1)", rows, locks)
	}
}
