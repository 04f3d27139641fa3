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
	var b strings.Builder
	var args []any
	b.WriteString("with ")
	for i, q := range qs {
		if i > 0 {
			b.WriteString(", ")
		}
		offset := len(args)
		b.WriteString("w" + strconv.Itoa(i) + " as (")
		b.WriteString(param.ReplaceAllStringFunc(q.SQL, func(p string) string {
			n, _ := strconv.Atoi(p[1:])
			return "$" + strconv.Itoa(n+offset)
		}))
		b.WriteString(")")
		args = append(args, q.Arguments...)
	}
	b.WriteString(" select")
	return &pgx.QueuedQuery{SQL: b.String(), Arguments: args}
}
