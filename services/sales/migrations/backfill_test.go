package migrations_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/sales/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Deals stored before stage_sums existed are in its sums once migration
// 00006 runs, in every tenant (row-level security is forced on the
// migrating owner too), and the sums follow writes from then on.
func TestStageSumsCountDealsWrittenBefore(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	full := migrations.Set()
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), testenv.MigrationsBefore(t, full, "00006")); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tenants, stage := []uuid.UUID{uuid.New(), uuid.New()}, uuid.New()
	insert := func(tenant uuid.UUID, n int) {
		t.Helper()
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into deals (tenant_id, id, title, pipeline_id, stage_id, status, amount, currency, owner_id, team,
					stage_entered_at, version, created_at, updated_at)
				select $1, gen_random_uuid(), 'd', gen_random_uuid(), $2, 'open', 100, 'RUB', 'rep', 'team', now(), 1, now(), now()
				from generate_series(1, $3)`, tenant, stage, n)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i, tenant := range tenants {
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tenants (tenant_id, name, record, generation) values ($1, $2, '', 1)`, tenant, tenant.String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		insert(tenant, 3+i)
	}
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), full); err != nil {
		t.Fatal(err)
	}
	insert(tenants[0], 2) // after the migration, the triggers keep the sums
	for i, want := range []int64{5, 4} {
		var deals, amount int64
		if err := postgres.InTenant(ctx, pool, tenants[i], func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select coalesce(sum(deals), 0), coalesce(sum(amount), 0) from stage_sums where stage_id = $1`, stage).Scan(&deals, &amount)
		}); err != nil {
			t.Fatal(err)
		}
		if deals != want || amount != want*100 {
			t.Errorf("tenant %d: %d deals, %d amount; want %d, %d", i, deals, amount, want, want*100)
		}
	}
}
