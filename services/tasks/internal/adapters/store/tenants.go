package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// Tenants is the tasks service's part of applying a tenant record.
type Tenants struct{}

// Apply seeds a tenant's defaults once: outcomes in its language, the
// default calendar (with the Russian statutory holidays for a Russian
// tenant) and the rules of tasks. A later record changes none of them:
// they are the tenant's admins' since.
func (Tenants) Apply(ctx context.Context, tx pgx.Tx, rec *tenancyv1.TenantRecord) error {
	id, err := uuid.Parse(rec.GetId())
	if err != nil {
		return err
	}
	return Seed(ctx, tx, id, rec.GetLocale(), "", time.Now().UTC().Truncate(time.Microsecond))
}

// Purge removes every row the service holds for the tenant (deletionPolicy
// Delete); the transaction is scoped to that tenant, so RLS bounds it too.
func (Tenants) Purge(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	for _, table := range []string{"tasks", "task_relinks", "outcomes", "calendars", "task_settings", "known_contacts", "known_companies", "known_deals", "idempotency_keys"} {
		if _, err := tx.Exec(ctx, `delete from `+table+` where tenant_id = $1`, tenantID); err != nil {
			return err
		}
	}
	return nil
}
