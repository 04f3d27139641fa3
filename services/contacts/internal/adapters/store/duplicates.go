package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// The duplicate list walks two indexes in order and never compares
// contacts two by two over the whole base:
//
//   - channel: contact_keys grouped by key (its primary key, tenant_id and
//     key first): each key held by 2 to domain.MaxDuplicateGroup contacts
//     is a group;
//   - name: contacts grouped by (company_id, name_key) on contacts_name_key.
//
// A group yields each two of its contacts as a pair. A pair sharing several
// channels is listed once, under the first of them; one that also shares a
// channel is left out of the name stream, where it would come again. Each
// query reads a chunk of groups after the last one (keyset), so a page
// costs the groups up to its last pair, and the whole list one pass over
// each index. Groups hold only contacts the viewer sees.
const (
	pairChunk = 100 // groups a query reads
	pairBatch = 500 // pairs whose reasons one query looks up
)

func (r *Contacts) DuplicatePairs(ctx context.Context, tenantID uuid.UUID, q service.PairQuery, limit int) (out []service.FoundPair, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		w := &pairWalk{ctx: ctx, tx: tx, tenant: tenantID, viewer: q.Viewer, limit: limit}
		defer func() { out = w.out }()
		if q.After.Stream != service.StreamName {
			after := q.After
			if after.Stream != service.StreamChannel {
				after = service.PairCursor{}
			}
			if err := w.walk(service.StreamChannel, after); err != nil || w.full() {
				return err
			}
			q.After = service.PairCursor{}
		}
		return w.walk(service.StreamName, q.After)
	})
	return out, err
}

// pairWalk collects the pairs of a page.
type pairWalk struct {
	ctx    context.Context
	tx     pgx.Tx
	tenant uuid.UUID
	viewer domain.Viewer
	limit  int
	out    []service.FoundPair
}

func (w *pairWalk) full() bool { return len(w.out) >= w.limit }

type pairGroup struct {
	key string // the channel key, or "<company id> <name key>"
	ids []uuid.UUID
}

type candidate struct {
	group string
	a, b  uuid.UUID
}

// walk adds the pairs of stream after the cursor until the page is full or
// the stream ends.
func (w *pairWalk) walk(stream string, after service.PairCursor) error {
	from, inclusive := after.Group, after.Group != ""
	var cands []candidate
	for {
		groups, err := w.groups(stream, from, inclusive)
		if err != nil {
			return err
		}
		for _, g := range groups {
			a, b := uuid.Nil, uuid.Nil
			if inclusive && g.key == after.Group {
				a, b = after.A, after.B
			}
			domain.PairsOf(g.ids, a, b, func(x, y uuid.UUID) bool {
				cands = append(cands, candidate{group: g.key, a: x, b: y})
				if len(cands) < pairBatch {
					return true
				}
				err = w.emit(stream, cands)
				cands = cands[:0]
				return err == nil && !w.full()
			})
			if err != nil || w.full() {
				return err
			}
		}
		if err := w.emit(stream, cands); err != nil || w.full() {
			return err
		}
		cands = cands[:0]
		if len(groups) < pairChunk {
			return nil
		}
		from, inclusive = groups[len(groups)-1].key, false
	}
}

// groups reads the next chunk of groups of stream after from (from
// included when inclusive: a page may end inside a group).
func (w *pairWalk) groups(stream, from string, inclusive bool) ([]pairGroup, error) {
	q := where{args: []any{w.tenant}}
	q.add("tenant_id = $1")
	op := ">"
	if inclusive {
		op = ">="
	}
	var sql string
	switch stream {
	case service.StreamChannel:
		q.add("key "+op+" $?", from)
		if !w.viewer.All {
			q.add("contact_id = any(array(select id from contacts where tenant_id = $1 and " + q.visible(w.viewer) + "))")
		}
		sql = `select key, array_agg(contact_id order by contact_id) from contact_keys where ` + strings.Join(q.conds, " and ") +
			` group by key having count(*) between 2 and ` + fmt.Sprint(domain.MaxDuplicateGroup) + ` order by key limit ` + q.arg(pairChunk)
	default:
		q.add("name_key is not null")
		if from != "" {
			company, key, _ := strings.Cut(from, " ")
			id, err := uuid.Parse(company)
			if err != nil {
				return nil, fmt.Errorf("duplicates: name cursor %q: %w", from, err)
			}
			q.add("(company_id, name_key) "+op+" ($?, $?)", id, key)
		}
		if !w.viewer.All {
			q.add(q.visible(w.viewer))
		}
		sql = `select company_id::text || ' ' || name_key, array_agg(id order by id) from contacts where ` + strings.Join(q.conds, " and ") +
			` group by company_id, name_key having count(*) between 2 and ` + fmt.Sprint(domain.MaxDuplicateGroup) +
			` order by company_id, name_key limit ` + q.arg(pairChunk)
	}
	rows, err := w.tx.Query(w.ctx, sql, q.args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (g pairGroup, err error) {
		return g, row.Scan(&g.key, &g.ids)
	})
}

// pairFacts looks up, for each candidate pair, every channel its contacts
// share (in key order), the first of those held by few enough contacts to
// be walked as a group ($4: domain.MaxDuplicateGroup; a key all of a
// company shares, such as info@, is not), and whether they have similar
// names at one company.
const pairFacts = `select p.a, p.b,
		array(select ka.key from contact_keys ka
			join contact_keys kb on kb.tenant_id = $1 and kb.key = ka.key and kb.contact_id = p.b
			where ka.tenant_id = $1 and ka.contact_id = p.a order by ka.key),
		coalesce((select ka.key from contact_keys ka
			join contact_keys kb on kb.tenant_id = $1 and kb.key = ka.key and kb.contact_id = p.b
			where ka.tenant_id = $1 and ka.contact_id = p.a
			  and (select count(*) from contact_keys kc where kc.tenant_id = $1 and kc.key = ka.key) <= $4
			order by ka.key limit 1), ''),
		exists(select 1 from contacts ca join contacts cb on cb.tenant_id = $1 and cb.id = p.b
			where ca.tenant_id = $1 and ca.id = p.a and ca.name_key is not null
			and ca.company_id = cb.company_id and ca.name_key = cb.name_key)
	from unnest($2::uuid[], $3::uuid[]) as p (a, b)`

// emit adds the candidates that belong in stream where they were found,
// with all their reasons, until the page is full.
func (w *pairWalk) emit(stream string, cands []candidate) error {
	if len(cands) == 0 {
		return nil
	}
	as, bs := make([]uuid.UUID, len(cands)), make([]uuid.UUID, len(cands))
	for i, c := range cands {
		as[i], bs[i] = c.a, c.b
	}
	type facts struct {
		keys     []string
		walked   string // the first of keys walked as a group, or ""
		sameName bool
	}
	rows, err := w.tx.Query(w.ctx, pairFacts, w.tenant, as, bs, domain.MaxDuplicateGroup)
	if err != nil {
		return err
	}
	known := make(map[[2]uuid.UUID]facts, len(cands))
	if _, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var a, b uuid.UUID
		var f facts
		err := row.Scan(&a, &b, &f.keys, &f.walked, &f.sameName)
		known[[2]uuid.UUID{a, b}] = f
		return struct{}{}, err
	}); err != nil {
		return err
	}
	for _, c := range cands {
		f := known[[2]uuid.UUID{c.a, c.b}]
		// Each pair once: under the first shared channel walked as a group,
		// else by name (a channel too common to walk does not hide it).
		switch {
		case stream == service.StreamChannel && f.walked != c.group:
			continue
		case stream == service.StreamName && (f.walked != "" || !f.sameName):
			continue
		}
		p := domain.Pair{A: c.a, B: c.b}
		for _, k := range f.keys {
			p.Reasons = append(p.Reasons, domain.ReasonOfKey(k))
		}
		if f.sameName {
			p.Reasons = append(p.Reasons, domain.Reason{Kind: domain.ReasonName})
		}
		w.out = append(w.out, service.FoundPair{Pair: p, At: service.PairCursor{Stream: stream, Group: c.group, A: c.a, B: c.b}})
		if w.full() {
			return nil
		}
	}
	return nil
}
