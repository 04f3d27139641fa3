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
	// inFlightLease is how long an unfinished claim blocks its key: a claim
	// older than this was left by a process that died mid-request.
	inFlightLease = 5 * time.Minute
)

// NewPostgresIdempotencyStore keeps keys in the platform table
// idempotency_keys, each access scoped to its tenant by row-level security.
func NewPostgresIdempotencyStore(pool *pgxpool.Pool) IdempotencyStore {
	return &pgIdempotencyStore{pool: pool}
}

type pgIdempotencyStore struct{ pool *pgxpool.Pool }

func (s *pgIdempotencyStore) Claim(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte) (Claim, error) {
	var c Claim
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		// Takes a free key, or one whose row expired or whose claim was abandoned.
		var taken bool
		err := tx.QueryRow(ctx, `
			insert into idempotency_keys as k (tenant_id, key, request_hash)
			values ($1, $2, $3)
			on conflict (tenant_id, key) do update
			   set request_hash = excluded.request_hash, status = null, headers = null, body = null, created_at = now()
			 where k.created_at < now() - make_interval(secs => $4)
			    or (k.status is null and k.created_at < now() - make_interval(secs => $5))
			returning true`,
			tenant, key, requestHash, IdempotencyRetention.Seconds(), inFlightLease.Seconds()).Scan(&taken)
		if err == nil {
			c = Claim{State: ClaimAcquired}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var (
			status  *int
			headers []byte
			body    []byte
		)
		err = tx.QueryRow(ctx, `select request_hash, status, headers, body from idempotency_keys where tenant_id = $1 and key = $2`,
			tenant, key).Scan(&c.RequestHash, &status, &headers, &body)
		if err != nil {
			return err
		}
		if status == nil {
			c.State = ClaimInFlight
			return nil
		}
		c.State = ClaimCompleted
		c.Response = StoredResponse{Status: *status, Body: body, Header: http.Header{}}
		if len(headers) > 0 {
			if err := json.Unmarshal(headers, &c.Response.Header); err != nil {
				return fmt.Errorf("stored headers: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Claim{}, fmt.Errorf("httpkit: claim idempotency key: %w", err)
	}
	return c, nil
}

func (s *pgIdempotencyStore) Complete(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte, resp StoredResponse) error {
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
			where tenant_id = $1 and key = $2 and request_hash = $3 and status is null`,
			tenant, key, requestHash, resp.Status, headers, body)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpkit: store idempotent response: %w", err)
	}
	return nil
}

func (s *pgIdempotencyStore) Release(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte) error {
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `delete from idempotency_keys where tenant_id = $1 and key = $2 and request_hash = $3 and status is null`,
			tenant, key, requestHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpkit: release idempotency key: %w", err)
	}
	return nil
}
