package testenv

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// TenantTables is a migration set (version table goose_<set>) creating each
// table, given as "name (columns…)" with a tenant_id column, with row-level
// security forced on tenant_id the way every service's migrations do it.
func TenantTables(set string, tables ...string) postgres.MigrationSet {
	var up, down strings.Builder
	for _, t := range tables {
		name := strings.Fields(t)[0]
		fmt.Fprintf(&up, "create table %s;\n", t)
		fmt.Fprintf(&up, "alter table %[1]s enable row level security;\nalter table %[1]s force row level security;\n", name)
		fmt.Fprintf(&up, "create policy %[1]s_tenant on %[1]s\n"+
			"  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)\n"+
			"  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);\n", name)
		fmt.Fprintf(&down, "drop table %s;\n", name)
	}
	sql := "-- +goose Up\n" + up.String() + "-- +goose Down\n" + down.String()
	return postgres.MigrationSet{Table: "goose_" + set, FS: fstest.MapFS{"00001_" + set + ".sql": {Data: []byte(sql)}}}
}

// AppPool is the service role's pool on a new database that holds the
// platform's tables and sets; it closes when the test ends.
func AppPool(t testing.TB, sets ...postgres.MigrationSet) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	db := NewDatabase(t)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, append([]postgres.MigrationSet{postgres.Platform()}, sets...)...); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// CountInTenant runs a query of one number (a count) as the app role at
// appURL in tenant's scope, so row-level security applies as it does to
// the service.
func CountInTenant(t testing.TB, appURL string, tenant uuid.UUID, sql string, args ...any) int {
	t.Helper()
	var n int
	inTenant(t, appURL, tenant, func(ctx context.Context, tx pgx.Tx) error { return tx.QueryRow(ctx, sql, args...).Scan(&n) })
	return n
}

// ExecInTenant runs a statement as the app role at appURL in tenant's
// scope (test data setup under row-level security).
func ExecInTenant(t testing.TB, appURL string, tenant uuid.UUID, sql string, args ...any) {
	t.Helper()
	inTenant(t, appURL, tenant, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
}

func inTenant(t testing.TB, appURL string, tenant uuid.UUID, fn func(context.Context, pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// MigrationsBefore is set cut to its migrations numbered below version
// ("00009"): the schema as an older release left it, for tests that store
// rows the old way and then migrate them.
func MigrationsBefore(t testing.TB, set postgres.MigrationSet, version string) postgres.MigrationSet {
	t.Helper()
	names, err := fs.Glob(set.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{}
	for _, name := range names {
		if name >= version {
			continue
		}
		data, err := fs.ReadFile(set.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = &fstest.MapFile{Data: data}
	}
	return postgres.MigrationSet{Table: set.Table, FS: files}
}
