package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// Tenants is the tasks service's part of applying a tenant record.
type Tenants struct{}

// Apply has nothing to seed yet: a new tenant starts with no tasks.
func (Tenants) Apply(context.Context, pgx.Tx, *tenancyv1.TenantRecord) error { return nil }

// Purge removes every row the service holds for the tenant (deletionPolicy
// Delete); the transaction is scoped to that tenant, so RLS bounds it too.
func (Tenants) Purge(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	for _, table := range []string{"tasks", "known_contacts", "known_companies", "known_deals", "idempotency_keys"} {
		if _, err := tx.Exec(ctx, `delete from `+table+` where tenant_id = $1`, tenantID); err != nil {
			return err
		}
	}
	return nil
}
