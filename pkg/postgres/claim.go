package postgres

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// IdempotencyClaim is the Idempotency-Key a request holds while its handler
// runs; httpkit.Idempotency puts it in the request's context. A write whose
// transaction appends outbox events in that context marks the claim in that
// transaction (pkg/events does, with MarkEffect), so the key knows its
// request took effect even when the process dies before the answer is
// stored, and a retry is never carried out a second time. It lives here, in
// the package both httpkit and events import.
type IdempotencyClaim struct {
	Tenant uuid.UUID
	Key    string
	// Token tells this holder of the key from any later one.
	Token uuid.UUID
	ended atomic.Bool
}

// End stops the claim from marking writes once its request is answered:
// work the request left running (an import's batches, say) is not its effect.
func (c *IdempotencyClaim) End() { c.ended.Store(true) }

type claimKey struct{}

// WithIdempotencyClaim returns ctx carrying c.
func WithIdempotencyClaim(ctx context.Context, c *IdempotencyClaim) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

// IdempotencyClaimFrom is the claim ctx carries, or nil when it carries none
// or its request was answered.
func IdempotencyClaimFrom(ctx context.Context) *IdempotencyClaim {
	c, _ := ctx.Value(claimKey{}).(*IdempotencyClaim)
	if c == nil || c.ended.Load() {
		return nil
	}
	return c
}

// EffectRecord names a record a request's write changed: the type and
// subject (the aggregate's id) of an event the write appended.
type EffectRecord struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// MarkEffect is the statement that marks c in the transaction of a write
// that changed records: an insert into idempotency_effects, whose trigger
// records the mark on the claim's row. Being an insert, it may be one of the
// WITH queries of a Chain. When another request has taken the key over, it
// fails the transaction with SQLSTATE RP412 (platform migration 00003).
func (c *IdempotencyClaim) MarkEffect(records []EffectRecord) (*pgx.QueuedQuery, error) {
	if records == nil {
		records = []EffectRecord{}
	}
	b, err := json.Marshal(records)
	if err != nil {
		return nil, err
	}
	return &pgx.QueuedQuery{
		SQL:       `insert into idempotency_effects (tenant_id, key, claim, records) values ($1, $2, $3, $4::text::jsonb)`,
		Arguments: []any{c.Tenant, c.Key, c.Token, string(b)},
	}, nil
}
