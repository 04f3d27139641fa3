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
	// Schema, when set, is a schema of the set's own whose tables hold no
	// tenant's rows under RLS (a job queue's): the app role gets row access
	// to its tables, except Private ones (its own migration history).
	Schema  string
	Private []string
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
// so FORCE ROW LEVEL SECURITY always applies to it. It may run the functions
// of schema system (the platform's few operations across tenants) and may
// not touch the migration history.
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
	return grant(ctx, db, appRole, sets)
}

// grant runs in one transaction, so the app role is never seen holding
// the migration history between the grant on all tables and the revoke.
func grant(ctx context.Context, db *sql.DB, appRole string, sets []MigrationSet) error {
	role := pgx.Identifier{appRole}.Sanitize()
	stmts := []string{
		"grant usage on schema public to " + role,
		"grant select, insert, update, delete on all tables in schema public to " + role,
		"grant usage, select on all sequences in schema public to " + role,
		// A new function is executable by PUBLIC; those of schema system run
		// with the owner's rights and are for the app role alone.
		"revoke execute on all functions in schema system from public",
		"grant usage on schema system to " + role,
		"grant execute on all functions in schema system to " + role,
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, set := range sets {
		if set.Schema != "" {
			schema := pgx.Identifier{set.Schema}.Sanitize()
			stmts = append(stmts, "grant usage on schema "+schema+" to "+role,
				"grant select, insert, update, delete on all tables in schema "+schema+" to "+role,
				"grant usage, select on all sequences in schema "+schema+" to "+role)
			for _, private := range set.Private {
				stmts = append(stmts, "revoke all on table "+pgx.Identifier{set.Schema, private}.Sanitize()+" from "+role)
			}
		}
		// Whoever writes the history decides which migrations run next:
		// deleting its rows would make the owner apply every migration again.
		table := pgx.Identifier{set.Table}.Sanitize()
		stmts = append(stmts, "revoke all on table "+table+" from "+role)
		var seq sql.NullString
		if err := tx.QueryRowContext(ctx, `select pg_get_serial_sequence($1, 'id')`, table).Scan(&seq); err != nil {
			return fmt.Errorf("postgres: sequence of %s: %w", set.Table, err)
		}
		if seq.Valid {
			stmts = append(stmts, "revoke all on sequence "+seq.String+" from "+role)
		}
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: %s: %w", stmt, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	return nil
}
