package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// appendChunk bounds one insert statement, so that a bulk import's events do
// not become one giant parameter array.
const appendChunk = 1000

// Append writes events into the outbox in the caller's transaction, so the
// change and its events commit or vanish together; the relay publishes them
// afterwards. tx is the repository's tenant-scoped transaction
// (postgres.InTenant): row-level security refuses another tenant's event.
//
// Ordering rule: a repository appends an aggregate's events after writing the
// aggregate's row. The row lock then makes a second change to the same
// aggregate wait for the first to commit before it takes its outbox sequence
// numbers, so per aggregate, seq order is commit order, and the relay (which
// publishes in seq order) keeps the aggregate's events in order. Events of one
// Append call get increasing seqs in argument order.
//
// The caller's trace context is stored with each row so that the relay's
// publish span joins the request's trace.
//
// When ctx carries the Idempotency-Key claim of a request
// (postgres.IdempotencyClaimFrom), the events also mark it, in this
// transaction: the key then knows that its request took effect, and names
// the events' subjects, even if the answer is never stored.
//
// The inserts (one per appendChunk events) and the mark go as one pipeline:
// an import's thousands of events cost one round trip.
func Append(ctx context.Context, tx pgx.Tx, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	if err := QueueAppend(ctx, b, evs...); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("events: append to outbox: %w", err)
	}
	return nil
}

// QueueAppend is Append for a pgx.Batch that also carries the aggregate's
// write (see postgres.InTenantBatch): the change and its events then reach
// the database in one round trip and commit together.
func QueueAppend(ctx context.Context, b *pgx.Batch, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	headers := outboxHeaders(ctx)
	for start := 0; start < len(evs); start += appendChunk {
		sql, args, err := insertRows(evs[start:min(start+appendChunk, len(evs))], start, headers)
		if err != nil {
			return err
		}
		b.Queue(sql, args...)
	}
	if c := postgres.IdempotencyClaimFrom(ctx); c != nil {
		if records, ok := effectRecords(c.Tenant, evs); ok {
			q, err := c.MarkEffect(records)
			if err != nil {
				return fmt.Errorf("events: mark the request's Idempotency-Key: %w", err)
			}
			b.Queue(q.SQL, q.Arguments...)
		}
	}
	return nil
}

// insertOutbox begins with outboxMark, by which the relay hears of its commits.
const insertOutbox = outboxMark + `(tenant_id, id, topic, key, type, subject, payload, headers)
select t, i, tp, k, ty, s, p, h::jsonb
from unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], $8::text[])
     with ordinality as u(t, i, tp, k, ty, s, p, h, n)
order by n`

// insertRows validates chunk (whose first event is number start of the
// append) and returns its insert. "with ordinality ... order by n" makes
// the identity column follow the argument order.
func insertRows(chunk []Event, start int, headers func(Event) (string, error)) (string, []any, error) {
	var (
		tenants  = make([]uuid.UUID, len(chunk))
		ids      = make([]uuid.UUID, len(chunk))
		topics   = make([]string, len(chunk))
		keys     = make([][]byte, len(chunk))
		types    = make([]string, len(chunk))
		subjects = make([]string, len(chunk))
		payloads = make([][]byte, len(chunk))
		hs       = make([]string, len(chunk))
	)
	for i, e := range chunk {
		if e.TenantID == uuid.Nil || e.ID == uuid.Nil || e.Topic == "" || e.Type == "" || e.Source == "" {
			return "", nil, fmt.Errorf("events: append: event %d (%s %s) lacks tenant, id, topic, type or source", start+i, e.Type, e.ID)
		}
		h, err := headers(e)
		if err != nil {
			return "", nil, err
		}
		tenants[i], ids[i], topics[i], types[i], subjects[i], hs[i] = e.TenantID, e.ID, e.Topic, e.Type, e.Subject, h
		keys[i], payloads[i] = nonNil(e.Key), nonNil(e.Data)
	}
	return insertOutbox, []any{tenants, ids, topics, keys, types, subjects, payloads, hs}, nil
}

// effectRecords names the records evs changed in tenant (each type and
// subject once, in order); ok is false when no event is tenant's.
func effectRecords(tenant uuid.UUID, evs []Event) (records []postgres.EffectRecord, ok bool) {
	seen := make(map[postgres.EffectRecord]bool, len(evs))
	for _, e := range evs {
		if e.TenantID != tenant {
			continue
		}
		ok = true
		r := postgres.EffectRecord{Type: e.Type, ID: e.Subject}
		if e.Subject != "" && !seen[r] {
			seen[r] = true
			records = append(records, r)
		}
	}
	return records, ok
}

// outboxHeaders returns a function rendering the headers column of an event:
// the CloudEvents attributes the table has no column for, plus the caller's
// trace context, injected once.
func outboxHeaders(ctx context.Context) func(Event) (string, error) {
	trace := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, trace)
	return func(e Event) (string, error) {
		h := make(map[string]string, len(trace)+2)
		for k, v := range trace {
			h[k] = v
		}
		h[HeaderSource] = e.Source
		for k, v := range e.Extensions {
			if !validExtension(k) {
				return "", fmt.Errorf("events: %s: extension %q is not a lower-case name of letters and digits, or shadows an attribute", e.Type, k)
			}
			h["ce_"+k] = v
		}
		if !e.Time.IsZero() {
			h[HeaderTime] = e.Time.UTC().Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(h)
		if err != nil {
			return "", fmt.Errorf("events: outbox headers: %w", err)
		}
		return string(b), nil
	}
}

// eventFromOutbox rebuilds the event of an outbox row; headers keeps only the
// trace context, which parents the relay's publish span.
func eventFromOutbox(tenant, id uuid.UUID, topic string, key []byte, typ, subject string, payload []byte, headers map[string]string, created time.Time) (Event, propagation.MapCarrier) {
	e := Event{ID: id, Type: typ, Source: headers[HeaderSource], Subject: subject, TenantID: tenant,
		Topic: topic, Key: key, Data: payload, Time: created.UTC()}
	if t, err := time.Parse(time.RFC3339Nano, headers[HeaderTime]); err == nil {
		e.Time = t.UTC()
	}
	trace := propagation.MapCarrier{}
	for k, v := range headers {
		if name, ok := strings.CutPrefix(k, "ce_"); ok && validExtension(name) {
			if e.Extensions == nil {
				e.Extensions = map[string]string{}
			}
			e.Extensions[name] = v
		} else if k != HeaderSource && k != HeaderTime {
			trace[k] = v
		}
	}
	return e, trace
}

// nonNil keeps the not-null bytea columns satisfied by an empty key or payload.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
