package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Tenants is the contacts service's part of applying a tenant record.
type Tenants struct{}

// Apply seeds a new tenant's lead sources, in its locale's language; a
// tenant that has some (every generation after the first) keeps its own.
func (Tenants) Apply(ctx context.Context, tx pgx.Tx, rec *tenancyv1.TenantRecord) error {
	id, err := uuid.Parse(rec.GetId())
	if err != nil {
		return err
	}
	var has bool
	if err := tx.QueryRow(ctx, `select exists (select 1 from lead_sources where tenant_id = $1)`, id).Scan(&has); err != nil || has {
		return err
	}
	return insertLeadSources(ctx, tx, id, domain.DefaultLeadSources(rec.GetLocale()))
}

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
		// After the contacts, whose delete trigger counts them out.
		`delete from contact_counts where tenant_id = $1`,
		`delete from companies where tenant_id = $1`,
		`delete from fields where tenant_id = $1`,
		`delete from lead_sources where tenant_id = $1`,
		`delete from idempotency_keys where tenant_id = $1`,
	} {
		if _, err := tx.Exec(ctx, stmt, tenantID); err != nil {
			return err
		}
	}
	return nil
}
