package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// MigrationSet is a folder of numbered goose SQL files with its own version
// table, so the platform's tables and a service's tables evolve independently.
type MigrationSet struct {
	// Table records the applied versions, e.g. "goose_contacts".
	Table string
	FS    fs.FS
}

//go:embed migrations/*.sql
var platformFS embed.FS

// Platform is the set every service applies first: the outbox, the inbox,
// idempotency keys and the applied tenant records.
func Platform() MigrationSet {
	sub, _ := fs.Sub(platformFS, "migrations")
	return MigrationSet{Table: "goose_platform", FS: sub}
}

// Migrate applies the sets in order as the owner of the tables (ownerURL) and
// then grants appRole row access only: the service never owns what it reads,
// so FORCE ROW LEVEL SECURITY always applies to it.
func Migrate(ctx context.Context, ownerURL, appRole string, sets ...MigrationSet) error {
	cfg, err := pgx.ParseConfig(ownerURL)
	if err != nil {
		return fmt.Errorf("postgres: parse owner url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	for _, set := range sets {
		p, err := goose.NewProvider(goose.DialectPostgres, db, set.FS, goose.WithTableName(set.Table), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			return fmt.Errorf("postgres: migrations %s: %w", set.Table, err)
		}
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", set.Table, err)
		}
	}
	return grant(ctx, db, appRole)
}

func grant(ctx context.Context, db *sql.DB, appRole string) error {
	role := pgx.Identifier{appRole}.Sanitize()
	for _, stmt := range []string{
		"grant usage on schema public to " + role,
		"grant select, insert, update, delete on all tables in schema public to " + role,
		"grant usage, select on all sequences in schema public to " + role,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: %s: %w", stmt, err)
		}
	}
	return nil
}
