package servicekit_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/pkg/servicekit"
)

// In MigrateOnly mode New applies the migrations and stops, connecting to
// nothing else (here there is no broker and no token verification at all),
// and Program reports that as success.
func TestMigrateOnlyAppliesTheMigrationsAndStops(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	cfg := servicekit.Config{MigrateDatabaseURL: db.OwnerURL, AppRole: db.AppRole, MigrateOnly: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := servicekit.New(ctx, "widgets", cfg, log, noDefaults{})
	if !errors.Is(err, servicekit.ErrMigrated) || b != nil {
		t.Fatalf("New in MigrateOnly mode: %v, %v", b, err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The platform's tables are there, and the app role may use them.
	if err := pool.QueryRow(ctx, `select count(*) from outbox`).Scan(new(int)); err != nil {
		t.Fatalf("after a migrate-only run: %v", err)
	}
	run := servicekit.Program(func() (servicekit.Config, error) { return cfg, nil },
		func(ctx context.Context, cfg servicekit.Config, log *slog.Logger) (*servicekit.Base, error) {
			return servicekit.New(ctx, "widgets", cfg, log, noDefaults{})
		})
	if err := run(ctx, log); err != nil {
		t.Fatalf("a second migrate-only run (nothing left to apply): %v", err)
	}
}
