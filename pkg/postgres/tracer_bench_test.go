package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// benchOutboxInsert is the shape of pkg/events' outbox insert (which this
// package cannot import).
const benchOutboxInsert = `insert into outbox (tenant_id, id, topic, key, type, subject, payload, headers)
select t, i, tp, k, ty, s, p, h::jsonb
from unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], $8::text[])
     with ordinality as u(t, i, tp, k, ty, s, p, h, n)
order by n`

// benchContactCreate is a batch shaped like the contacts service's create:
// the scope with the key locks, then one checked chain of the contact, its
// keys, its events and its timeline entry.
func benchContactCreate() *pgx.Batch {
	chain := ChainChecked(
		&pgx.QueuedQuery{SQL: `select contacts_duplicate(contact_id, key) from contact_keys
		where tenant_id = $1 and contact_id <> $2 and key = any(array[$3,$4])`},
		&pgx.QueuedQuery{SQL: `insert into contacts (tenant_id, id, first_name, last_name, emails, phones, owner_id, tags,
	company_id, position, lifecycle_stage, source, timezone, timezone_derived, address, birthday, version, created_at,
	updated_at, search, sort_name, team, shares, custom)
	values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)`},
		&pgx.QueuedQuery{SQL: `insert into contact_keys (tenant_id, key, contact_id) select $1, k, $3 from unnest($2::text[]) k`},
		&pgx.QueuedQuery{SQL: benchOutboxInsert},
		&pgx.QueuedQuery{SQL: `insert into timeline (tenant_id, contact_id, at, event_id, type, source, actor, data)
	values ($1, $2, $3, $4, $5, $6, $7, $8)`},
	)
	b := &pgx.Batch{}
	b.Queue(`select set_config('app.tenant_id', $1, true), (select string_agg(pg_advisory_xact_lock(hashtextextended($2::text || k, 0))::text, '') from unnest($3::text[]) k)`, "t")
	b.Queue(chain.SQL, "x")
	return b
}

// recording returns a tracer and a context whose spans are recorded, as
// they are in a service with an exporter.
func recording(b *testing.B) (*tracer, context.Context) {
	prev := otel.GetTracerProvider()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	otel.SetTracerProvider(tp)
	b.Cleanup(func() { otel.SetTracerProvider(prev) })
	ctx, root := tp.Tracer("bench").Start(context.Background(), "request")
	b.Cleanup(func() { root.End() })
	return newTracer(), ctx
}

func BenchmarkDescribe(b *testing.B) {
	for _, bc := range []struct{ name, sql string }{
		{"set_config", `select set_config('app.tenant_id', $1, true)`},
		{"outbox_insert", benchOutboxInsert},
		{"contact_create_chain", benchContactCreate().QueuedQueries[1].SQL},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				describe(bc.sql)
			}
		})
	}
}

// BenchmarkTraceContactCreate is the tracer's work for one contact create's
// pipeline: the batch span and one span per statement.
func BenchmarkTraceContactCreate(b *testing.B) {
	t, ctx := recording(b)
	batch := benchContactCreate()
	b.ReportAllocs()
	for b.Loop() {
		bctx := t.TraceBatchStart(ctx, nil, pgx.TraceBatchStartData{Batch: batch})
		for _, q := range batch.QueuedQueries {
			t.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: q.SQL, Args: q.Arguments})
		}
		t.TraceBatchEnd(bctx, nil, pgx.TraceBatchEndData{})
	}
}
