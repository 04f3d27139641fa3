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

// A contact projected before sales kept who sees it comes out of 00009 as
// of unknown visibility, never as visible to all or to none: a write that
// names it asks the contacts service.
func TestContactsProjectedBeforeVisibilityAreUnknown(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	full := migrations.Set()
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), testenv.MigrationsBefore(t, full, "00009")); err != nil {
		t.Fatal(err)
	}
	tenant, contact := uuid.New(), uuid.New()
	testenv.ExecInTenant(t, db.AppURL, tenant, `insert into contacts (tenant_id, id, name, version) values ($1, $2, 'Анна Иванова', 3)`, tenant, contact)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), full); err != nil {
		t.Fatal(err)
	}
	var known bool
	var owner, team string
	var users, teams []string
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select visibility_known, owner_id, team, shared_users, shared_teams from contacts where id = $1`, contact).
			Scan(&known, &owner, &team, &users, &teams)
	}); err != nil {
		t.Fatal(err)
	}
	if known || owner != "" || team != "" || len(users) != 0 || len(teams) != 0 {
		t.Errorf("an old row came out as known=%v owner=%q team=%q users=%v teams=%v", known, owner, team, users, teams)
	}
}
