// Package postgres is the platform's PostgreSQL access: a traced pgx pool,
// migrations applied by goose as the owner role, and transactions scoped to a
// tenant so that row-level security backs every query.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// Open connects a pool whose queries are traced with OpenTelemetry.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	cfg.ConnConfig.Tracer = newTracer()
	// google/uuid's UUID is a driver.Valuer, which pgx encodes through its
	// text form (and scans through sql.Scanner): a tenth of a write's CPU in
	// the contacts service. Registered, it goes as the 16 bytes it is.
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	// pgx defaults to max(4, cores) connections; a service also holds one for
	// the relay's leader lock and one per consumer member, so that starves
	// request handling. pool_max_conns in the URL still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return pool, nil
}

// ErrNoTenant is returned when a tenant-scoped transaction is asked for the zero tenant.
var ErrNoTenant = errors.New("postgres: tenant id is required")

// InTenant runs fn in a transaction in which row-level security admits only
// tenantID's rows. It commits when fn returns nil and rolls back otherwise.
func InTenant(ctx context.Context, pool *pgxpool.Pool, tenantID uuid.UUID, fn func(pgx.Tx) error) error {
	return InTenantReading(ctx, pool, tenantID, nil, fn)
}

// InTenantReading is InTenant whose first reads travel with the begin and
// the tenant's scope, in the same round trip: reads queues them (with
// their result callbacks, which may fail the transaction), and fn runs
// once they are read. A write's "lock the row, then change it" costs one
// round trip fewer.
func InTenantReading(ctx context.Context, pool *pgxpool.Pool, tenantID uuid.UUID, reads func(*pgx.Batch), fn func(pgx.Tx) error) error {
	if tenantID == uuid.Nil {
		return ErrNoTenant
	}
	// The tenant goes as a parameter, never inside the text (where traces
	// and logs would record it); begin and the scope still travel as one
	// pipeline, one round trip.
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(`select set_config('app.tenant_id', $1, true)`, tenantID.String())
	if reads != nil {
		reads(b)
	}
	br := pool.SendBatch(ctx, b)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		// Rolling back also returns the connection to the pool.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("postgres: begin: %w", err)
	}
	return finish(ctx, tx, fn)
}

// InTenantBatch sends b as one pipeline, scoped to tenantID, and commits it
// if every statement succeeds: PostgreSQL runs the statements of one
// extended-protocol pipeline as a single implicit transaction, so the whole
// write costs one round trip. It suits writes that need no reads in between
// (creating an aggregate and appending its events).
func InTenantBatch(ctx context.Context, pool *pgxpool.Pool, tenantID uuid.UUID, b *pgx.Batch) error {
	return InTenantBatchWith(ctx, pool, tenantID, nil, b)
}

// InTenantBatchWith is InTenantBatch whose first statement, the one that
// scopes the transaction, also evaluates first (when not nil): a query of
// one value that needs no tenant (taking advisory locks, say), one
// statement fewer in the pipeline. first's parameters are numbered from $1
// as if it stood alone.
func InTenantBatchWith(ctx context.Context, pool *pgxpool.Pool, tenantID uuid.UUID, first *pgx.QueuedQuery, b *pgx.Batch) error {
	if tenantID == uuid.Nil {
		return ErrNoTenant
	}
	scoped := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, b.Len()+1)}
	if first == nil {
		QueueTenant(scoped, tenantID)
	} else {
		scoped.Queue(`select set_config('app.tenant_id', $1, true), (`+renumber(first.SQL, 1)+`)`,
			append([]any{tenantID.String()}, first.Arguments...)...)
	}
	scoped.QueuedQueries = append(scoped.QueuedQueries, b.QueuedQueries...)
	var s seen
	s.noteBatch(scoped)
	if err := pool.SendBatch(ctx, scoped).Close(); err != nil {
		return err
	}
	s.committed()
	return nil
}

// QueueTenant queues, in a pipeline sent by pool.SendBatch (which
// PostgreSQL runs as one implicit transaction), the statement that scopes
// the statements queued after it to tenantID, up to the next QueueTenant:
// one pipeline can visit several tenants, each in its own scope.
func QueueTenant(b *pgx.Batch, tenantID uuid.UUID) {
	b.Queue(`select set_config('app.tenant_id', $1, true)`, tenantID.String())
}

// finish runs fn in tx, then commits, or rolls back when fn fails or panics.
func finish(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) (err error) {
	s := &seen{}
	defer func() {
		// A panic in fn must not leave the transaction open: its connection
		// would never return to the pool, and its row locks never go.
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(&watchedTx{Tx: tx, seen: s}); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	s.committed()
	return nil
}

// TenantFrom reads the tenant a transaction was scoped to (uuid.Nil if none).
func TenantFrom(ctx context.Context, tx pgx.Tx) (uuid.UUID, error) {
	var s string
	if err := tx.QueryRow(ctx, `select coalesce(current_setting('app.tenant_id', true), '')`).Scan(&s); err != nil {
		return uuid.Nil, err
	}
	if s == "" {
		return uuid.Nil, nil
	}
	return uuid.Parse(s)
}
