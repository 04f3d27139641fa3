package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	salesv1 "github.com/rapportcrm/rapport/pkg/gen/crm/sales/v1"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// Tenants is the sales service's part of applying a tenant record.
type Tenants struct{}

// Apply seeds a new tenant's default pipeline and loss reasons in its
// language, once: a tenant keeps what it has made of them, even none.
func (Tenants) Apply(ctx context.Context, tx pgx.Tx, rec *tenancyv1.TenantRecord) error {
	id, err := uuid.Parse(rec.GetId())
	if err != nil {
		return err
	}
	r := &repo{tx: tx, tenant: id}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if done, err := r.exists(ctx, `select 1 from tenant_setup where tenant_id = $1`, id); err != nil || done {
		return err
	}
	// Seeded before tenant_setup existed: it holds pipelines or reasons.
	seeded, err := r.exists(ctx, `select 1 from pipelines where tenant_id = $1 union all select 1 from loss_reasons where tenant_id = $1`, id)
	if err != nil {
		return err
	}
	if !seeded {
		if err := seed(ctx, r, rec, now); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `insert into tenant_setup (tenant_id, seeded_at) values ($1, $2)`, id, now)
	return err
}

func seed(ctx context.Context, r *repo, rec *tenancyv1.TenantRecord, now time.Time) error {
	pl, err := domain.NewPipeline(r.tenant, domain.DefaultPipelineName(rec.GetLocale()), nil, rec.GetLocale(), now)
	if err != nil {
		return err
	}
	if err := r.InsertPipeline(ctx, pl); err != nil {
		return err
	}
	e, err := events.New(service.Topic, service.Source, service.TypePipelineChanged, r.tenant, pl.ID().String(),
		&salesv1.PipelineChanged{Pipeline: service.PipelineMessage(pl), ActorId: "system"})
	if err != nil {
		return err
	}
	if err := r.Publish(ctx, e); err != nil {
		return err
	}
	for i, name := range domain.DefaultLossReasons(rec.GetLocale()) {
		lr, err := domain.NewLossReason(name, i, now)
		if err != nil {
			return err
		}
		if err := insertLossReason(ctx, r.tx, r.tenant, lr); err != nil {
			return err
		}
	}
	return nil
}

// Purge removes every row the service holds for the tenant (deletionPolicy
// Delete); the transaction is scoped to that tenant, so RLS bounds it too.
func (Tenants) Purge(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	for _, table := range []string{"tenant_setup", "deal_tasks", "relinks", "contacts", "companies", "lead_sources", "fields", "deal_moves", "deals", "stage_sums", "stages", "pipelines", "loss_reasons", "currency_rates", "idempotency_keys"} {
		if _, err := tx.Exec(ctx, `delete from `+table+` where tenant_id = $1`, tenantID); err != nil {
			return err
		}
	}
	return nil
}
