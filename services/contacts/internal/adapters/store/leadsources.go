package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// LeadSources stores each tenant's lead sources.
type LeadSources struct{ pool *pgxpool.Pool }

// NewLeadSources is the lead source repository on pool.
func NewLeadSources(pool *pgxpool.Pool) *LeadSources { return &LeadSources{pool: pool} }

// List returns the tenant's lead sources in their order.
func (r *LeadSources) List(ctx context.Context, tenantID uuid.UUID) (out []domain.LeadSource, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select value, label from lead_sources where tenant_id = $1 order by position, value`, tenantID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (s domain.LeadSource, err error) {
			return s, row.Scan(&s.Value, &s.Label)
		})
		return err
	})
	return out, err
}

// Replace makes sources the tenant's lead sources, with their events.
func (r *LeadSources) Replace(ctx context.Context, tenantID uuid.UUID, sources []domain.LeadSource, evs []events.Event) error {
	return postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `delete from lead_sources where tenant_id = $1`, tenantID); err != nil {
			return err
		}
		if err := insertLeadSources(ctx, tx, tenantID, sources); err != nil {
			return err
		}
		return events.Append(ctx, tx, evs...)
	})
}

func insertLeadSources(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, sources []domain.LeadSource) error {
	values, labels := make([]string, len(sources)), make([]string, len(sources))
	for i, s := range sources {
		values[i], labels[i] = s.Value, s.Label
	}
	_, err := tx.Exec(ctx, `insert into lead_sources (tenant_id, value, label, position)
		select $1, v, l, p::int - 1 from unnest($2::text[], $3::text[]) with ordinality u(v, l, p)`, tenantID, values, labels)
	return err
}
