package pgcluster_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
)

// A cluster started again on the same folder keeps its data, as `make run` needs.
func TestRestartKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pg")
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	db, err := c.EnsureDatabase(ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db.OwnerURL, `create table kept (v text); insert into kept values ('still here')`)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	c, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	again, err := c.EnsureDatabase(ctx, "keep")
	if err != nil || again.OwnerURL == "" {
		t.Fatalf("EnsureDatabase is not idempotent: %v", err)
	}
	conn, err := pgx.Connect(ctx, again.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, `select v from kept`).Scan(&v); err != nil || v != "still here" {
		t.Fatalf("have %q, %v", v, err)
	}
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// A service database lets row-level security use the search and tag
// indexes: their operators are marked leakproof, and creating the database
// again keeps it so.
func TestDatabasesAreBootstrapped(t *testing.T) {
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(t.TempDir(), "pg")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	for range 2 {
		db, err := c.EnsureDatabase(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, db.AppURL)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = conn.QueryRow(ctx, `select count(*) from pg_proc where proleakproof and oid in ('pg_catalog.textlike(text,text)'::regprocedure, 'pg_catalog.arraycontains(anyarray,anyarray)'::regprocedure, 'pg_catalog.arrayoverlap(anyarray,anyarray)'::regprocedure, 'pg_catalog.jsonb_contains(jsonb,jsonb)'::regprocedure,
			'pg_catalog.array_ne(anyarray,anyarray)'::regprocedure, 'pg_catalog.jsonb_ne(jsonb,jsonb)'::regprocedure)`).Scan(&n)
		conn.Close(ctx)
		if err != nil || n != 6 {
			t.Fatalf("leakproof operators: %d of 6 (%v)", n, err)
		}
	}
}
