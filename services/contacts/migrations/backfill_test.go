package migrations_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/migrations"
)

// A database the service wrote before migrations 00002 and 00003 gets the
// channel keys, lower-case values and search text those migrations meant to
// backfill, in every tenant, once the later migrations run.
func TestBackfillOfContactsWrittenBeforeIssue3(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	full := migrations.Set()
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), testenv.MigrationsBefore(t, full, "00002")); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tenants := []uuid.UUID{uuid.New(), uuid.New()}
	contacts := []uuid.UUID{uuid.New(), uuid.New()}
	for i, tenant := range tenants {
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tenants (tenant_id, name, record, generation) values ($1, $2, '', 1)`, tenant, tenant.String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into contacts (tenant_id, id, first_name, last_name, emails, phones, owner_id, tags, version, created_at, updated_at)
				values ($1, $2, 'Анна', 'Ёлкина', '{Anna@Example.RU}', '{+79120000000}', 'u', '{VIP}', 1, now(), now())`, tenant, contacts[i])
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), full); err != nil {
		t.Fatal(err)
	}
	for i, tenant := range tenants {
		var emails, tags, keys []string
		var search, sortName string
		if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `select emails, tags, search, sort_name from contacts where id = $1`, contacts[i]).
				Scan(&emails, &tags, &search, &sortName); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, `select key from contact_keys where contact_id = $1 order by key`, contacts[i])
			keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if emails[0] != "anna@example.ru" || tags[0] != "vip" || search == "" || sortName != "елкина анна" ||
			len(keys) != 2 || keys[0] != "email:anna@example.ru" || keys[1] != "phone:+79120000000" {
			t.Errorf("tenant %d: emails %v tags %v search %q sort %q keys %v", i, emails, tags, search, sortName, keys)
		}
	}
}
