package postgres

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

var param = regexp.MustCompile(`\$([0-9]+)`)

// Chain makes one statement of several data-modifying statements that
// return nothing the caller reads (inserts, updates, deletes without
// RETURNING), as the WITH queries of an empty SELECT: PostgreSQL runs each
// exactly once, in one snapshot, and the pipeline carries one statement to
// bind, plan and start instead of one each — a write of several rows to
// several tables spends much of its database time on that per-statement
// work. Each statement's parameters are renumbered after the ones before;
// so its text must hold no "$<digits>" but its parameters (no dollar
// quoting, no such literal). The statements must not depend on each other's
// effects: they all see the data as it was before the chain.
func Chain(qs ...*pgx.QueuedQuery) *pgx.QueuedQuery {
	if len(qs) == 1 {
		return qs[0]
	}
	return chain(nil, qs)
}

// ChainChecked is Chain with a check: a query, also a WITH query of the
// statement, that the statement reads to the end, so that an error it
// raises (a duplicate, say) fails the writes with it. The check sees the
// data as it was before the writes, like them.
func ChainChecked(check *pgx.QueuedQuery, writes ...*pgx.QueuedQuery) *pgx.QueuedQuery {
	return chain(check, writes)
}

func chain(check *pgx.QueuedQuery, qs []*pgx.QueuedQuery) *pgx.QueuedQuery {
	var b strings.Builder
	var args []any
	b.WriteString("with ")
	add := func(name string, q *pgx.QueuedQuery) {
		as := " as ("
		if q == check {
			// Computed in full, so that an error of any row is raised even
			// though the statement only counts them.
			as = " as materialized ("
		}
		b.WriteString(name + as + renumber(q.SQL, len(args)) + ")")
		args = append(args, q.Arguments...)
	}
	for i, q := range qs {
		if i > 0 {
			b.WriteString(", ")
		}
		add("w"+strconv.Itoa(i), q)
	}
	if check == nil {
		b.WriteString(" select")
	} else {
		if len(qs) > 0 {
			b.WriteString(", ")
		}
		add("checked", check)
		b.WriteString(" select count(*) from checked")
	}
	return &pgx.QueuedQuery{SQL: b.String(), Arguments: args}
}

// renumber shifts the parameters of sql by offset.
func renumber(sql string, offset int) string {
	if offset == 0 {
		return sql
	}
	return param.ReplaceAllStringFunc(sql, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(n+offset)
	})
}
