package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// CheckPrivileges migrates a new database for real (the platform's set, then
// sets) and checks, as the app role a service connects as, what a client
// holding the service's credentials (psql, say) could do:
//   - every table but the migration history has row-level security enabled
//     and forced, so a new table without it fails, and a primary key that
//     leads with tenant_id (but the outbox, read in sequence order);
//   - with rows of two tenants in every table, entering the system scope
//     (the app.system setting that once admitted the platform's machinery to
//     every tenant) in one tenant's scope or in none shows no other tenant's
//     row and updates or deletes none;
//   - every permissive policy that applies to the app role admits exactly
//     the rows of app.tenant_id, in reading and in writing;
//   - the migration history cannot be inserted, updated, deleted or
//     truncated;
//   - the app role owns nothing and is a member of no role;
//   - the functions that run with the owner's rights (schema system) are
//     SECURITY DEFINER with a fixed search_path, and only the app role and
//     the owner may execute them.
//
// A service covers its database with one line:
//
//	func TestDatabasePrivileges(t *testing.T) { testenv.CheckPrivileges(t, migrations.Set()) }
func CheckPrivileges(t *testing.T, sets ...postgres.MigrationSet) {
	t.Helper()
	ctx := context.Background()
	db := NewDatabase(t)
	all := append([]postgres.MigrationSet{postgres.Platform()}, sets...)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, all...); err != nil {
		t.Fatal(err)
	}
	super := connect(t, Postgres(t).URL("postgres", db.Name))
	app := connect(t, db.AppURL)
	history := map[string]bool{}
	for _, s := range all {
		history[s.Table] = true
	}
	rows, _ := super.Query(ctx, `select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c
		where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') order by 1`)
	type table struct {
		name           string
		enabled, force bool
	}
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		return tb, r.Scan(&tb.name, &tb.enabled, &tb.force)
	})
	if err != nil {
		t.Fatal(err)
	}
	var tables []string // every table but the migration history
	for _, tb := range rels {
		if !history[tb.name] {
			tables = append(tables, tb.name)
		}
	}

	t.Run("row-level security is forced on every table", func(t *testing.T) {
		for _, tb := range rels {
			if history[tb.name] {
				continue
			}
			if !tb.enabled || !tb.force {
				t.Errorf("table %s: row level security enabled %v, forced %v; want both", tb.name, tb.enabled, tb.force)
			}
		}
		for name := range history {
			if !exists(rels, func(tb table) bool { return tb.name == name }) {
				t.Errorf("no migration history table %s", name)
			}
		}
	})

	t.Run("every primary key leads with tenant_id", func(t *testing.T) {
		for _, tb := range tables {
			if tb == "outbox" {
				continue // the relay reads it in sequence order, across tenants
			}
			var first string
			err := super.QueryRow(ctx, `select coalesce((select a.attname from pg_index i
				join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
				where i.indrelid = $1::regclass and i.indisprimary), '')`, pgx.Identifier{tb}.Sanitize()).Scan(&first)
			if err != nil {
				t.Fatal(err)
			}
			if first != "tenant_id" {
				t.Errorf("table %s: primary key leads with %q, want tenant_id", tb, first)
			}
		}
	})

	t.Run("the migration history cannot be written", func(t *testing.T) {
		for name := range history {
			tbl := pgx.Identifier{name}.Sanitize()
			for _, stmt := range []string{
				`insert into ` + tbl + ` (version_id, is_applied) values (99999, true)`,
				`update ` + tbl + ` set is_applied = false`,
				`delete from ` + tbl,
				`truncate ` + tbl,
			} {
				if err := inTx(ctx, app, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, stmt); return err }); !isCode(err, "42501") {
					t.Errorf("as %s, %q: have %v, want permission denied", db.AppRole, stmt, err)
				}
			}
		}
	})

	t.Run("tables outside public are a set's own schema, its history closed", func(t *testing.T) {
		declared := map[string]bool{"public": true}
		for _, s := range all {
			if s.Schema != "" {
				declared[s.Schema] = true
			}
			for _, private := range s.Private {
				var may bool
				if err := super.QueryRow(ctx, `select has_table_privilege($1, $2, 'insert') or has_table_privilege($1, $2, 'update')
						or has_table_privilege($1, $2, 'delete') or has_table_privilege($1, $2, 'truncate')`,
					db.AppRole, pgx.Identifier{s.Schema, private}.Sanitize()).Scan(&may); err != nil || may {
					t.Errorf("as %s, %s.%s may be written (%v)", db.AppRole, s.Schema, private, err)
				}
			}
		}
		rows, _ := super.Query(ctx, `select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`)
		tbls, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var x [2]string
			return x, r.Scan(&x[0], &x[1])
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range tbls {
			if !declared[x[0]] {
				t.Errorf("table %s.%s lies in a schema no migration set declares (MigrationSet.Schema)", x[0], x[1])
			}
		}
	})

	t.Run("the app role owns nothing", func(t *testing.T) {
		var owned []string
		rows, _ := super.Query(ctx, `
			select 'relation ' || oid::regclass::text from pg_class where relowner = $1::regrole
			union all select 'function ' || oid::regprocedure::text from pg_proc where proowner = $1::regrole
			union all select 'type ' || oid::regtype::text from pg_type where typowner = $1::regrole
			union all select 'schema ' || nspname from pg_namespace where nspowner = $1::regrole
			union all select 'database ' || datname from pg_database where datdba = $1::regrole
			union all select 'member of ' || roleid::regrole::text from pg_auth_members where member = $1::regrole`, db.AppRole)
		owned, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(owned) > 0 {
			t.Errorf("%s holds %v; want nothing", db.AppRole, owned)
		}
	})

	t.Run("policies admit the app role by tenant only", func(t *testing.T) {
		canonical := canonicalTenantPolicy(t, super)
		rows, _ := super.Query(ctx, `
			select c.relname, p.polname, coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
			from pg_policy p join pg_class c on c.oid = p.polrelid
			where c.relnamespace = 'public'::regnamespace and p.polpermissive
			  and (0 = any(p.polroles) or $1::regrole = any(p.polroles))
			order by 1, 2`, db.AppRole)
		type policy struct{ table, name, using, check string }
		policies, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (policy, error) {
			var p policy
			return p, r.Scan(&p.table, &p.name, &p.using, &p.check)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range policies {
			if (p.using != "" && p.using != canonical) || (p.check != "" && p.check != canonical) {
				t.Errorf("policy %s on %s admits the app role by\n  using %s\n  check %s\nwant only %s", p.name, p.table, p.using, p.check, canonical)
			}
		}
	})

	t.Run("the system scope cannot be entered", func(t *testing.T) {
		mine, theirs := uuid.New(), uuid.New()
		seedEveryTable(t, super, tables, mine, theirs)
		for _, tb := range tables {
			tbl := pgx.Identifier{tb}.Sanitize()
			for _, scope := range []struct {
				name   string
				tenant uuid.UUID
			}{{"in a tenant's scope", mine}, {"without a tenant", uuid.Nil}} {
				err := inTx(ctx, app, func(tx pgx.Tx) error {
					// Both ways a client could set it: for the session and for the transaction.
					if _, err := tx.Exec(ctx, `set app.system = 'on'`); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `select set_config('app.system', 'on', true)`); err != nil {
						return err
					}
					if scope.tenant != uuid.Nil {
						if _, err := tx.Exec(ctx, `select set_config('app.tenant_id', $1, true)`, scope.tenant.String()); err != nil {
							return err
						}
					}
					var others int
					if err := tx.QueryRow(ctx, `select count(*) from `+tbl+` where tenant_id is distinct from $1`, scope.tenant).Scan(&others); err != nil {
						return err
					}
					if others > 0 {
						t.Errorf("%s, %s with app.system on: %s shows %d rows of other tenants", db.AppRole, scope.name, tb, others)
					}
					for _, stmt := range []string{`update ` + tbl + ` set tenant_id = tenant_id where tenant_id = $1`, `delete from ` + tbl + ` where tenant_id = $1`} {
						tag, err := tx.Exec(ctx, stmt, theirs)
						if err != nil {
							return fmt.Errorf("%s: %w", stmt, err)
						}
						if tag.RowsAffected() > 0 {
							t.Errorf("%s, %s with app.system on: %q changed %d rows of another tenant", db.AppRole, scope.name, stmt, tag.RowsAffected())
						}
					}
					if scope.tenant != uuid.Nil {
						// The seeded row is there to be hidden: the tenant still sees its own.
						var own int
						if err := tx.QueryRow(ctx, `select count(*) from `+tbl+` where tenant_id = $1`, scope.tenant).Scan(&own); err != nil {
							return err
						}
						if own != 1 {
							t.Errorf("%s in its tenant's scope sees %d of its own rows in %s, want 1", db.AppRole, own, tb)
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("%s, %s: %v", tb, scope.name, err)
				}
			}
		}
	})

	t.Run("system functions are narrow", func(t *testing.T) {
		rows, _ := super.Query(ctx, `
			select p.oid::regprocedure::text, p.prosecdef, coalesce(array_to_string(p.proconfig, ','), ''),
			       has_function_privilege($1, p.oid, 'execute'),
			       exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0)
			from pg_proc p
			where p.pronamespace = 'system'::regnamespace or (p.prosecdef and p.pronamespace = 'public'::regnamespace)
			order by 1`, db.AppRole)
		type fn struct {
			name            string
			definer         bool
			config          string
			byApp, byPublic bool
		}
		fns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fn, error) {
			var f fn
			return f, r.Scan(&f.name, &f.definer, &f.config, &f.byApp, &f.byPublic)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fns {
			t.Logf("system operation %s", f.name)
			if !f.definer || !strings.Contains(f.config, "search_path=") || f.byPublic || !f.byApp {
				t.Errorf("%s: security definer %v, settings %q, executable by PUBLIC %v, by %s %v; want a definer with a search_path, for the app role only",
					f.name, f.definer, f.config, f.byPublic, db.AppRole, f.byApp)
			}
			if !strings.HasPrefix(f.name, "system.") {
				t.Errorf("%s runs with its owner's rights outside schema system", f.name)
			}
		}
	})
}

// canonicalTenantPolicy is how PostgreSQL prints the one condition a policy
// may admit the app role by: the row's tenant is app.tenant_id.
func canonicalTenantPolicy(t *testing.T, super *pgx.Conn) string {
	t.Helper()
	ctx := context.Background()
	var expr string
	err := inTx(ctx, super, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `create temp table canonical_policy (tenant_id uuid);
			create policy canonical on canonical_policy using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `select pg_get_expr(polqual, polrelid) from pg_policy where polname = 'canonical'
			and polrelid = 'canonical_policy'::regclass`).Scan(&expr)
	})
	if err != nil {
		t.Fatal(err)
	}
	return expr
}

// seedEveryTable writes, as the superuser (which bypasses row-level
// security), one row of each tenant into every table. Foreign keys and
// triggers are off for it (session_replication_role) and CHECK constraints
// are dropped, in this throwaway database, so that a made-up value fits
// any table; a NOT NULL column without a default gets a value of its type.
func seedEveryTable(t *testing.T, super *pgx.Conn, tables []string, tenants ...uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	if _, err := super.Exec(ctx, `set session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = super.Exec(ctx, `reset session_replication_role`) }()
	for _, tb := range tables {
		tbl := pgx.Identifier{tb}.Sanitize()
		rows, _ := super.Query(ctx, `select conname from pg_constraint where conrelid = $1::regclass and contype = 'c'`, tbl)
		checks, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if _, err := super.Exec(ctx, `alter table `+tbl+` drop constraint `+pgx.Identifier{c}.Sanitize()); err != nil {
				t.Fatal(err)
			}
		}
		rows, _ = super.Query(ctx, `
			select a.attname, format_type(a.atttypid, a.atttypmod), ty.typcategory, ty.typtype,
			       coalesce((select e.enumlabel from pg_enum e where e.enumtypid = a.atttypid order by e.enumsortorder limit 1), '')
			from pg_attribute a join pg_type ty on ty.oid = a.atttypid
			where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
			  and a.attgenerated = '' and a.attidentity = ''
			  and (a.attname = 'tenant_id' or (a.attnotnull and not a.atthasdef))
			order by a.attnum`, tbl)
		type column struct{ name, typ, category, kind, label string }
		cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
			var c column
			return c, r.Scan(&c.name, &c.typ, &c.category, &c.kind, &c.label)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !exists(cols, func(c column) bool { return c.name == "tenant_id" }) {
			t.Errorf("table %s has no tenant_id column: every table is some tenant's", tb)
			continue
		}
		for i, tenant := range tenants {
			names := make([]string, len(cols))
			values := make([]string, len(cols))
			for j, c := range cols {
				names[j] = pgx.Identifier{c.name}.Sanitize()
				v, err := madeUp(c.name, c.typ, c.category, c.kind, c.label, tenant, i*1000+j)
				if err != nil {
					t.Fatalf("table %s: %v", tb, err)
				}
				values[j] = v
			}
			stmt := `insert into ` + tbl + ` (` + strings.Join(names, ", ") + `) values (` + strings.Join(values, ", ") + `)`
			if _, err := super.Exec(ctx, stmt); err != nil {
				t.Fatalf("seed %s: %s: %v", tb, stmt, err)
			}
		}
	}
}

// madeUp is a literal of a column's type; n keeps values apart.
func madeUp(name, typ, category, kind, label string, tenant uuid.UUID, n int) (string, error) {
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'::" + typ }
	switch {
	case name == "tenant_id":
		return lit(tenant.String()), nil
	case kind == "e":
		return lit(label), nil
	case category == "A":
		return lit("{}"), nil
	case category == "S":
		return lit(fmt.Sprintf("seed-%d", n)), nil
	case category == "N":
		return lit(fmt.Sprint(n + 1)), nil
	case category == "B":
		return lit("false"), nil
	case category == "D":
		return lit("now"), nil
	case category == "T":
		return lit("1 second"), nil
	case typ == "uuid":
		return lit(uuid.NewString()), nil
	case typ == "jsonb" || typ == "json":
		return lit("{}"), nil
	case typ == "bytea":
		return lit(`\x00`), nil
	case typ == "tsvector":
		return lit(""), nil
	}
	return "", fmt.Errorf("column %s: no made-up value of type %s (category %s): teach testenv.madeUp", name, typ, category)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return c
}

// inTx runs fn in a transaction that is always rolled back.
func inTx(ctx context.Context, c *pgx.Conn, fn func(pgx.Tx) error) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	return fn(tx)
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func exists[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if f(v) {
			return true
		}
	}
	return false
}
