package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/migrations"
)

// live reads a tenant's count of live contacts as the quota does, and
// counts them in the table.
func live(t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID) (counted, stored int64) {
	t.Helper()
	ctx := context.Background()
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select (select coalesce(sum(live), 0)::bigint from contact_counts),
			(select count(*) from contacts where erased_at is null)`).Scan(&counted, &stored)
	}); err != nil {
		t.Fatal(err)
	}
	return counted, stored
}

// migratedBefore is a fresh database migrated up to, not including,
// version, with the app role's pool and writers in a tenant's scope: exec
// runs a statement, insert adds n contacts (erased ones if erased).
func migratedBefore(t *testing.T, version string) (db pgcluster.Database, full postgres.MigrationSet, pool *pgxpool.Pool,
	exec func(tenant uuid.UUID, sql string, args ...any), insert func(tenant uuid.UUID, n int, erased bool)) {
	t.Helper()
	ctx := context.Background()
	db = testenv.NewDatabase(t)
	full = migrations.Set()
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), testenv.MigrationsBefore(t, full, version)); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	exec = func(tenant uuid.UUID, sql string, args ...any) {
		t.Helper()
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert = func(tenant uuid.UUID, n int, erased bool) {
		t.Helper()
		erasedAt := "null"
		if erased {
			erasedAt = "now()"
		}
		exec(tenant, `insert into contacts (tenant_id, id, first_name, owner_id, version, created_at, updated_at, erased_at)
			select $1, gen_random_uuid(), 'C' || i, 'u', 1, now(), now(), `+erasedAt+` from generate_series(1, $2) i`, tenant, n)
	}
	return db, full, pool, exec, insert
}

// Migration 00017 counts the live contacts every tenant already has (not
// the erased ones), and from then on every insert, delete and erasure keeps
// the count, whatever the shape of the statement.
func TestContactCountsBackfillAndTriggers(t *testing.T) {
	ctx := context.Background()
	db, full, pool, exec, insert := migratedBefore(t, "00017")
	defer pool.Close()
	// Tenant 0 holds 3 live contacts and an erased one, tenant 1 two live
	// ones, tenant 2 none.
	tenants := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, tenant := range tenants {
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tenants (tenant_id, name, record, generation) values ($1, $2, '', 1)`, tenant, tenant.String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert(tenants[0], 3, false)
	insert(tenants[0], 1, true)
	insert(tenants[1], 2, false)

	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), full); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{3, 2, 0} {
		if counted, stored := live(t, pool, tenants[i]); counted != want || stored != want {
			t.Errorf("tenant %d after the migration: counted %d, stored %d, want %d", i, counted, stored, want)
		}
	}

	// Many rows in one statement, then single rows in several transactions
	// (so several shards), deletes, an erasure and an undone erasure.
	insert(tenants[0], 500, false)
	for range 20 {
		insert(tenants[0], 1, false)
	}
	exec(tenants[0], `delete from contacts where id in (select id from contacts where erased_at is null order by id limit 7)`)
	exec(tenants[0], `update contacts set erased_at = now() where id = (select id from contacts where erased_at is null order by id limit 1)`)
	exec(tenants[0], `update contacts set erased_at = null where id = (select id from contacts where erased_at is not null order by id limit 1)`)
	exec(tenants[0], `update contacts set first_name = 'Renamed'`)
	exec(tenants[2], `delete from contacts`)
	for i, want := range []int64{3 + 500 + 20 - 7, 2, 0} {
		if counted, stored := live(t, pool, tenants[i]); counted != want || stored != want {
			t.Errorf("tenant %d after writes: counted %d, stored %d, want %d", i, counted, stored, want)
		}
	}
	var shards int
	if err := postgres.InTenant(ctx, pool, tenants[0], func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select count(*) from contact_counts`).Scan(&shards)
	}); err != nil {
		t.Fatal(err)
	}
	if shards < 2 || shards > 16 {
		t.Errorf("tenant 0's count is spread over %d rows, want 2 to 16", shards)
	}

	// The check refuses past the quota, naming quota and count.
	err := postgres.InTenant(ctx, pool, tenants[1], func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `select contacts_check_quota($1, 1, 1, false)`, tenants[1])
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "RP403") {
		t.Fatalf("2 contacts against a quota of 1: %v", err)
	}
}

// Migration 00018 counts only the tenants listed in contact_counted_tenants.
// It lists every tenant of a database at 00017, those in tenants and those
// with a count, so they keep being counted from where they were; a tenant
// not listed writes no count.
func TestCountedTenantsBackfill(t *testing.T) {
	ctx := context.Background()
	db, full, pool, exec, insert := migratedBefore(t, "00018")
	defer pool.Close()
	rows := func(tenant uuid.UUID) (listed, counts int) {
		t.Helper()
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select (select count(*) from contact_counted_tenants), (select count(*) from contact_counts)`).
				Scan(&listed, &counts)
		}); err != nil {
			t.Fatal(err)
		}
		return listed, counts
	}
	// Tenants 0 and 1 were applied (rows in tenants), 0 with 3 live
	// contacts and an erased one, 1 with none. Tenant 2 was never applied
	// but has 2 contacts, which 00017 counted.
	tenants := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, tenant := range tenants[:2] {
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tenants (tenant_id, name, record, generation) values ($1, $2, '', 1)`, tenant, tenant.String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert(tenants[0], 3, false)
	insert(tenants[0], 1, true)
	insert(tenants[2], 2, false)
	// Several transactions: tenant 0's count is spread over a few rows.
	for range 5 {
		insert(tenants[0], 1, false)
	}
	var rows0 int
	if err := postgres.InTenant(ctx, pool, tenants[0], func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select count(*) from contact_counts`).Scan(&rows0)
	}); err != nil {
		t.Fatal(err)
	}

	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), full); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{8, 0, 2} {
		if listed, _ := rows(tenants[i]); listed != 1 {
			t.Errorf("tenant %d is listed %d times, want once", i, listed)
		}
		if counted, stored := live(t, pool, tenants[i]); counted != want || stored != want {
			t.Errorf("tenant %d after the migration: counted %d, stored %d, want %d", i, counted, stored, want)
		}
	}
	if _, counts := rows(tenants[0]); counts != rows0 {
		t.Errorf("tenant 0's count has %d rows after the migration, %d before", counts, rows0)
	}

	// The listed tenants are still counted.
	insert(tenants[0], 10, false)
	insert(tenants[1], 4, false)
	exec(tenants[2], `delete from contacts where id = (select id from contacts order by id limit 1)`)
	exec(tenants[0], `update contacts set erased_at = now() where id = (select id from contacts where erased_at is null order by id limit 1)`)
	for i, want := range []int64{17, 4, 1} {
		if counted, stored := live(t, pool, tenants[i]); counted != want || stored != want {
			t.Errorf("tenant %d after writes: counted %d, stored %d, want %d", i, counted, stored, want)
		}
	}

	// A tenant that is not listed writes no count, whatever it writes.
	other := uuid.New()
	insert(other, 300, false)
	insert(other, 1, true)
	exec(other, `delete from contacts where id in (select id from contacts where erased_at is null order by id limit 3)`)
	exec(other, `update contacts set erased_at = now() where id = (select id from contacts where erased_at is null order by id limit 1)`)
	exec(other, `update contacts set erased_at = null where erased_at is not null`)
	if listed, counts := rows(other); listed != 0 || counts != 0 {
		t.Errorf("a tenant not listed: listed %d, %d rows of contact_counts; want none", listed, counts)
	}

	// One statement that writes contacts of several tenants (as the owner
	// may, with row-level security lifted) counts the listed ones only.
	owner, err := pgx.Connect(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lifted := []string{"contacts", "contact_counts", "contact_counted_tenants"}
	for _, table := range lifted {
		if _, err := tx.Exec(ctx, `alter table `+table+` no force row level security`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, `insert into contacts (tenant_id, id, first_name, owner_id, version, created_at, updated_at)
		select t, gen_random_uuid(), 'M', 'u', 1, now(), now() from unnest($1::uuid[]) t, generate_series(1, 2)`,
		[]uuid.UUID{other, tenants[1], tenants[0]}); err != nil {
		t.Fatal(err)
	}
	for _, table := range lifted {
		if _, err := tx.Exec(ctx, `alter table `+table+` force row level security`); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{19, 6} {
		if counted, stored := live(t, pool, tenants[i]); counted != want || stored != want {
			t.Errorf("tenant %d after a statement of several tenants: counted %d, stored %d, want %d", i, counted, stored, want)
		}
	}
	if _, counts := rows(other); counts != 0 {
		t.Errorf("a tenant not listed has %d rows of contact_counts after a statement of several tenants", counts)
	}
}
