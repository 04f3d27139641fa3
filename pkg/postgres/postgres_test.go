package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var notes = testenv.TenantTables("notes", `notes (tenant_id uuid not null, id int not null, body text not null, primary key (tenant_id, id))`)

func setup(t *testing.T) (context.Context, *pgxPool) {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), notes); err != nil {
		t.Fatal(err)
	}
	// Applying twice is a no-op.
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), notes); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return ctx, &pgxPool{pool}
}

func TestRowLevelSecurityHidesOtherTenants(t *testing.T) {
	ctx, p := setup(t)
	a, b := uuid.New(), uuid.New()
	for _, tenant := range []uuid.UUID{a, b} {
		err := postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into notes (tenant_id, id, body) values ($1, 1, $2)`, tenant, tenant.String())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	err := postgres.InTenant(ctx, p.Pool, a, func(tx pgx.Tx) error {
		// No tenant filter: RLS alone must keep tenant b's row out.
		rows, _ := tx.Query(ctx, `select body from notes`)
		var err error
		bodies, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 || bodies[0] != a.String() {
		t.Fatalf("tenant a sees %v, want only its own row", bodies)
	}
	// Writing a row for another tenant is refused by the policy's check.
	err = postgres.InTenant(ctx, p.Pool, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into notes (tenant_id, id, body) values ($1, 2, 'x')`, b)
		return err
	})
	if err == nil {
		t.Fatal("insert of another tenant's row succeeded")
	}
	// Without a tenant nothing is visible, nor with the old system setting.
	for name, scope := range map[string]string{"no scope": "", "app.system on": `select set_config('app.system', 'on', true)`} {
		run := func(fn func(pgx.Tx) error) error {
			tx, err := p.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if scope != "" {
				if _, err := tx.Exec(ctx, scope); err != nil {
					return err
				}
			}
			return fn(tx)
		}
		var n int
		if err := run(func(tx pgx.Tx) error { return tx.QueryRow(ctx, `select count(*) from notes`).Scan(&n) }); err != nil {
			t.Fatal(name, err)
		}
		if n != 0 {
			t.Fatalf("%s: sees %d domain rows, want 0", name, n)
		}
	}
}

func TestServiceRoleDoesNotOwnTables(t *testing.T) {
	ctx, p := setup(t)
	err := postgres.InTenant(ctx, p.Pool, uuid.New(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `alter table notes no force row level security`)
		return err
	})
	if err == nil {
		t.Fatal("the service role could switch off row-level security")
	}
}

func TestInTenantRollsBackOnError(t *testing.T) {
	ctx, p := setup(t)
	tenant := uuid.New()
	boom := errors.New("boom")
	err := postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into notes values ($1, 1, 'half')`, tenant); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("have %v, want boom", err)
	}
	var n int
	_ = postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select count(*) from notes`).Scan(&n)
	})
	if n != 0 {
		t.Fatalf("a failed transaction left %d rows", n)
	}
	if err := postgres.InTenant(ctx, p.Pool, uuid.Nil, func(pgx.Tx) error { return nil }); !errors.Is(err, postgres.ErrNoTenant) {
		t.Fatalf("nil tenant: have %v", err)
	}
}

type pgxPool struct{ *pgxpool.Pool }

func TestInTenantBatchIsScopedAndAtomic(t *testing.T) {
	ctx, p := setup(t)
	a, b := uuid.New(), uuid.New()
	ok := &pgx.Batch{}
	ok.Queue(`insert into notes values ($1, 1, 'one')`, a)
	ok.Queue(`insert into notes values ($1, 2, 'two')`, a)
	if err := postgres.InTenantBatch(ctx, p.Pool, a, ok); err != nil {
		t.Fatal(err)
	}
	// The second statement writes another tenant's row: RLS refuses it and the
	// first statement of the same pipeline is rolled back with it.
	bad := &pgx.Batch{}
	bad.Queue(`insert into notes values ($1, 3, 'three')`, a)
	bad.Queue(`insert into notes values ($1, 4, 'four')`, b)
	if err := postgres.InTenantBatch(ctx, p.Pool, a, bad); err == nil {
		t.Fatal("a pipeline writing another tenant's row succeeded")
	}
	var n int
	_ = postgres.InTenant(ctx, p.Pool, a, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select count(*) from notes`).Scan(&n)
	})
	if n != 2 {
		t.Fatalf("have %d rows, want the 2 of the first pipeline only", n)
	}
	if err := postgres.InTenantBatch(ctx, p.Pool, uuid.Nil, &pgx.Batch{}); !errors.Is(err, postgres.ErrNoTenant) {
		t.Fatalf("nil tenant: have %v", err)
	}
}

// A panic inside a tenant transaction rolls it back: its row locks go and
// its connection returns to the pool.
func TestInTenantRollsBackOnPanic(t *testing.T) {
	ctx := context.Background()
	pool := testenv.AppPool(t, testenv.TenantTables("panic_test", `panic_rows (tenant_id uuid not null, id int not null)`))
	tenant := uuid.New()
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into panic_rows (tenant_id, id) values ($1, 1)`, tenant)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_ = postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `update panic_rows set id = 2 where tenant_id = $1`, tenant); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var id int
	if err := postgres.InTenant(wctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(wctx, `select id from panic_rows where tenant_id = $1 for update`, tenant).Scan(&id)
	}); err != nil || id != 1 {
		t.Fatalf("after the panic: id %d, %v (want the row unchanged and unlocked)", id, err)
	}
}

// The reads InTenantReading sends with the begin are scoped to the tenant
// and hold their row locks for fn; a read that fails ends it before fn.
func TestInTenantReadingReadsInScopeWithTheBegin(t *testing.T) {
	ctx, p := setup(t)
	a, b := uuid.New(), uuid.New()
	for _, tenant := range []uuid.UUID{a, b} {
		if err := postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into notes values ($1, 1, 'mine')`, tenant)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var locked bool
	err := postgres.InTenantReading(ctx, p.Pool, a, func(batch *pgx.Batch) {
		batch.Queue(`select count(*) from (select 1 from notes for update) x`).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	}, func(tx pgx.Tx) error {
		// The lock is this transaction's: another cannot take it now.
		other, err := p.Pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = other.Rollback(ctx) }()
		if _, err := other.Exec(ctx, `select set_config('app.tenant_id', $1, true)`, a.String()); err != nil {
			return err
		}
		_, err = other.Exec(ctx, `select 1 from notes for update nowait`)
		locked = err != nil
		return nil
	})
	if err != nil || n != 1 || !locked {
		t.Fatalf("read %d rows of tenant a (want 1), locked %v: %v", n, locked, err)
	}
	gone := errors.New("no such note")
	ran := false
	err = postgres.InTenantReading(ctx, p.Pool, a, func(batch *pgx.Batch) {
		batch.Queue(`select 1 from notes where false`).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(new(int)); errors.Is(err, pgx.ErrNoRows) {
				return gone
			}
			return nil
		})
	}, func(pgx.Tx) error { ran = true; return nil })
	if !errors.Is(err, gone) || ran {
		t.Fatalf("a failed read: %v, fn ran %v", err, ran)
	}
}
