package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// Tenants is the contacts service's part of applying a tenant record.
type Tenants struct{}

// Apply has nothing to seed yet: the tenant row itself is written by the
// applier. Later issues seed default custom fields and lead sources here.
func (Tenants) Apply(context.Context, pgx.Tx, *tenancyv1.TenantRecord) error { return nil }

// Purge removes the tenant's client base (deletionPolicy Delete); the
// transaction is scoped to that tenant, so RLS bounds the delete too.
// Contacts go first (their activities follow them), and companies are free
// of contacts afterwards.
func (Tenants) Purge(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	for _, stmt := range []string{
		`delete from contact_keys where tenant_id = $1`,
		`delete from timeline where tenant_id = $1`,
		`delete from imports where tenant_id = $1`,
		`delete from merges where tenant_id = $1`,
		`delete from contacts where tenant_id = $1`,
		`delete from companies where tenant_id = $1`,
		`delete from fields where tenant_id = $1`,
		`delete from idempotency_keys where tenant_id = $1`,
	} {
		if _, err := tx.Exec(ctx, stmt, tenantID); err != nil {
			return err
		}
	}
	return nil
}
