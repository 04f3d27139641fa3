package postgres

import (
	"fmt"
	"testing"
)

func TestDescribeFollowsTheQuerySummaryConvention(t *testing.T) {
	for _, tc := range []struct {
		sql, summary, operation, collection, sanitized string
	}{
		{`select body from notes where id = $1`, "SELECT notes", "SELECT", "notes", ""},
		{`insert into notes (tenant_id, id, body) values ($1, 1, $2)`, "INSERT notes", "INSERT", "notes", "insert into notes (tenant_id, id, body) values ($1, ?, $2)"},
		{`UPDATE public.deals SET stage = $2 WHERE id = $1`, "UPDATE public.deals", "UPDATE", "public.deals", ""},
		{`delete from outbox where seq = any($1)`, "DELETE outbox", "DELETE", "outbox", ""},
		{`select c.id from contacts c join companies co on co.id = c.company_id`, "SELECT contacts companies", "SELECT", "", ""},
		{`select 1 from contacts a, companies b where a.x = b.y`, "SELECT contacts companies", "SELECT", "", ""},
		{`insert into outbox (tenant_id, id) select t, i from unnest($1::uuid[], $2::uuid[]) with ordinality as u(t, i, n) order by n`,
			"INSERT outbox SELECT", "", "", ""},
		{`select count(*), coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8 from outbox`,
			"SELECT outbox", "SELECT", "outbox", ""},
		{`select id from deals where id = $1 for update`, "SELECT deals", "SELECT", "deals", ""},
		{`insert into counters (k, n) values ($1, 1) on conflict (k) do update set n = counters.n + 1 returning n`,
			"INSERT counters", "INSERT", "counters", ""},
		{`with moved as (update deals set x = 1 returning id) select id from moved`, "UPDATE deals SELECT moved", "", "", ""},
		{`select set_config('app.tenant_id', $1, true)`, "SELECT", "SELECT", "", "select set_config(?, $1, true)"},
		{`begin; select set_config('app.tenant_id', 'c70d3abc-0c98-4a5b-977b-c956f8fa8ec9', true)`, "BEGIN SELECT", "", "",
			"begin; select set_config(?, ?, true)"},
		{`commit`, "COMMIT", "COMMIT", "", "commit"},
		{`-- name: x
select "Odd"."Name" from "Odd" where note = E'it''s \' here' and body = $$a 'b' c$$`, `SELECT "Odd"`, "SELECT", `"Odd"`,
			"-- name: x\nselect \"Odd\".\"Name\" from \"Odd\" where note = ? and body = ?"},
		{`select x from (select y from inner_t) s`, "SELECT SELECT inner_t", "", "", ""},
	} {
		have := describe(tc.sql)
		if have.summary != tc.summary || have.operation != tc.operation || have.collection != tc.collection {
			t.Errorf("%s:\nhave %q %q %q\nwant %q %q %q", tc.sql, have.summary, have.operation, have.collection, tc.summary, tc.operation, tc.collection)
		}
		if tc.sanitized != "" && have.sanitized != tc.sanitized {
			t.Errorf("%s: sanitized %q, want %q", tc.sql, have.sanitized, tc.sanitized)
		}
	}
}

// Generated texts (a parameter per key) cannot grow the memo of describe
// without bound, and a text described again is the same description.
func TestDescribeMemoIsBounded(t *testing.T) {
	const text = `select id from contact_keys where key = any(array[$1])`
	first := describe(text)
	if again := describe(text); again != first {
		t.Fatal("a described text was parsed again")
	}
	for i := range 3 * maxDescribed {
		describe(fmt.Sprintf("select id from contact_keys where key = any(array[$%d])", i+2))
	}
	n := 0
	descriptions.Range(func(any, any) bool { n++; return true })
	if n > maxDescribed {
		t.Fatalf("the memo holds %d texts, more than %d", n, maxDescribed)
	}
	if st := describe(text); st.summary != "SELECT contact_keys" || st.sanitized != text {
		t.Fatalf("described after the memo started over: %+v", st)
	}
}
