package httpkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

const (
	// IdempotencyRetention is how long a key and its response are kept.
	IdempotencyRetention = 24 * time.Hour
	// DefaultIdempotencyLease is how long a claim holds its key unless its
	// request renews it (Idempotency renews a running request's claim every
	// third of it): a claim not renewed for that long was left by a process
	// that died, and another request may take the key over.
	DefaultIdempotencyLease = 15 * time.Second
)

// PostgresIdempotencyStore keeps keys in the platform table
// idempotency_keys, each access scoped to its tenant by row-level security.
type PostgresIdempotencyStore struct {
	pool  *pgxpool.Pool
	lease time.Duration
}

// NewPostgresIdempotencyStore is the store over pool, with
// DefaultIdempotencyLease.
func NewPostgresIdempotencyStore(pool *pgxpool.Pool) *PostgresIdempotencyStore {
	return &PostgresIdempotencyStore{pool: pool, lease: DefaultIdempotencyLease}
}

// WithLease is the store with another lease (tests take a short one).
func (s *PostgresIdempotencyStore) WithLease(d time.Duration) *PostgresIdempotencyStore {
	return &PostgresIdempotencyStore{pool: s.pool, lease: d}
}

// Lease is how long a claim holds its key without a renewal.
func (s *PostgresIdempotencyStore) Lease() time.Duration { return s.lease }

// claimKey takes a free key, one kept past the retention, or one whose claim
// was abandoned: its lease ran out before its request took effect. A key
// whose request took effect (effect_at) is never taken before the retention
// ends, whatever became of its claim. The update waits for a write that is
// marking the claim (it locks the row) and then sees its mark.
const claimKey = `
insert into idempotency_keys as k (tenant_id, key, request_hash, claim, lease_until)
values ($1, $2, $3, $4, now() + make_interval(secs => $5))
on conflict (tenant_id, key) do update
   set request_hash = excluded.request_hash, claim = excluded.claim, lease_until = excluded.lease_until,
       status = null, headers = null, body = null, effect_at = null, records = null, created_at = now()
 where k.created_at < now() - make_interval(secs => $6)
    or (k.status is null and k.effect_at is null and k.lease_until < now())
returning true`

func (s *PostgresIdempotencyStore) Claim(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte) (Claim, error) {
	var c Claim
	token := uuid.New()
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var taken bool
		err := tx.QueryRow(ctx, claimKey, tenant, key, requestHash, token, s.lease.Seconds(), IdempotencyRetention.Seconds()).Scan(&taken)
		if err == nil {
			c = Claim{State: ClaimAcquired, Token: token}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var (
			status   *int
			headers  []byte
			body     []byte
			effectAt *time.Time
			lapsed   bool
			records  []byte
		)
		err = tx.QueryRow(ctx, `select request_hash, status, headers, body, effect_at, lease_until < now(), records
			from idempotency_keys where tenant_id = $1 and key = $2`,
			tenant, key).Scan(&c.RequestHash, &status, &headers, &body, &effectAt, &lapsed, &records)
		if err != nil {
			return err
		}
		switch {
		case status != nil:
			c.State = ClaimCompleted
			c.Response = StoredResponse{Status: *status, Body: body, Header: http.Header{}}
			if len(headers) > 0 {
				if err := json.Unmarshal(headers, &c.Response.Header); err != nil {
					return fmt.Errorf("stored headers: %w", err)
				}
			}
		case effectAt != nil && lapsed:
			// Carried out, and its process will never answer.
			c.State = ClaimAnswerLost
			c.EffectAt = *effectAt
			if len(records) > 0 {
				if err := json.Unmarshal(records, &c.Records); err != nil {
					return fmt.Errorf("stored records: %w", err)
				}
			}
		default:
			c.State = ClaimInFlight
		}
		return nil
	})
	if err != nil {
		return Claim{}, fmt.Errorf("httpkit: claim idempotency key: %w", err)
	}
	return c, nil
}

func (s *PostgresIdempotencyStore) Renew(ctx context.Context, tenant uuid.UUID, key string, token uuid.UUID) (bool, error) {
	var held bool
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update idempotency_keys set lease_until = now() + make_interval(secs => $4)
			where tenant_id = $1 and key = $2 and claim = $3 and status is null`,
			tenant, key, token, s.lease.Seconds())
		held = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("httpkit: renew idempotency key: %w", err)
	}
	return held, nil
}

func (s *PostgresIdempotencyStore) Complete(ctx context.Context, tenant uuid.UUID, key string, token uuid.UUID, resp StoredResponse) error {
	headers, err := json.Marshal(resp.Header)
	if err != nil {
		return fmt.Errorf("httpkit: store idempotent response: %w", err)
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	err = postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update idempotency_keys set status = $4, headers = $5, body = $6
			where tenant_id = $1 and key = $2 and claim = $3 and status is null`,
			tenant, key, token, resp.Status, headers, body)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpkit: store idempotent response: %w", err)
	}
	return nil
}

func (s *PostgresIdempotencyStore) Release(ctx context.Context, tenant uuid.UUID, key string, token uuid.UUID) error {
	// A claim whose request took effect stays, and its lease ends now: a
	// retry learns at once that the answer was lost instead of running again.
	b := &pgx.Batch{}
	b.Queue(`delete from idempotency_keys where tenant_id = $1 and key = $2 and claim = $3 and status is null and effect_at is null`,
		tenant, key, token)
	b.Queue(`update idempotency_keys set lease_until = now() where tenant_id = $1 and key = $2 and claim = $3 and status is null`,
		tenant, key, token)
	if err := postgres.InTenantBatch(ctx, s.pool, tenant, b); err != nil {
		return fmt.Errorf("httpkit: release idempotency key: %w", err)
	}
	return nil
}
