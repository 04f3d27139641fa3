package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// A function of schema system that calls a volatile function (one that
// reads the clock as it runs, like clock_timestamp) is volatile itself:
// declared stable, it promises one result per statement, which the
// planner may rely on.
func TestSystemFunctionsDeclareTheirVolatility(t *testing.T) {
	ctx, p := setup(t)
	rows, _ := p.Query(ctx, `select f.proname || ' calls ' || v.proname
		from pg_proc f
		join pg_proc v on v.pronamespace = 'pg_catalog'::regnamespace and v.provolatile = 'v'
			and f.prosrc ~* ('\m' || v.proname || '\s*\(')
		where f.pronamespace = 'system'::regnamespace and f.provolatile <> 'v'
		order by 1`)
	wrong, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrong {
		t.Errorf("%s but is not declared volatile", w)
	}
}
