package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/contacts/api"
	"github.com/rapportcrm/rapport/services/contacts/internal/adapters/salesapi"
	"github.com/rapportcrm/rapport/services/contacts/internal/adapters/store"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/imports"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
	"github.com/rapportcrm/rapport/services/contacts/internal/transport"
	"github.com/rapportcrm/rapport/services/contacts/migrations"
)

// Name is the service's name in acknowledgements, telemetry and consumer groups.
const Name = "contacts"

// App is the assembled contacts service.
type App struct {
	*servicekit.Base
}

// New migrates the database (when configured) and assembles the service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	base, err := servicekit.New(ctx, Name, cfg.Config, log, store.Tenants{}, migrations.Set())
	if err != nil {
		return nil, err
	}
	a := &App{Base: base}
	timeline, err := base.Consumer("timeline", service.TimelineTopics, service.AboutContacts, fileInTimeline)
	if err != nil {
		base.Close()
		return nil, err
	}
	pool := base.Pool
	worker := imports.NewWorker(store.NewImports(pool), a.settings, log)
	svc := service.New(service.Stores{Contacts: store.NewContacts(pool), Companies: store.NewCompanies(pool),
		Activities: store.NewActivities(pool), Fields: store.NewFields(pool), Imports: store.NewImports(pool),
		LeadSources: store.NewLeadSources(pool)}, a.settings, salesapi.New(cfg.SalesURL), worker.Wake)
	worker.SetSettings(svc.ImportSettings)
	base.Also(timeline.Run, worker.Run)
	base.Serve(servicekit.API{DocPath: "/v1/contacts/openapi.json", Doc: api.OpenAPI,
		Routes: func(mux *http.ServeMux) {
			transport.Routes(mux, endpoint.Make(svc, base.Observer))
			transport.LeadSourceRoutes(mux, endpoint.MakeLeadSources(svc, base.Observer))
		},
		// Imports take files, not JSON.
		Uploads: &servicekit.Uploads{Paths: []string{"/v1/imports"}, Limit: transport.MaxImportBytes,
			Routes: func(mux *http.ServeMux) { transport.ImportRoutes(mux, endpoint.MakeImports(svc, base.Observer)) }}})
	return a, nil
}

// settings are the tenant's defaults and quota from its record, as the
// tenancy directory holds it: every tenant the service admits requests
// for, updated when a new generation is applied (at once on the replica
// that applied it, on the next reload on the others), so a changed quota
// holds from the next write. The import worker, which serves no request,
// reads them the same way.
func (a *App) settings(tenant uuid.UUID) domain.Settings {
	rec := a.Record(tenant)
	if rec == nil {
		return domain.Settings{}
	}
	return domain.Settings{DefaultCountry: rec.GetDefaultCountry(), ContactsQuota: rec.GetQuotas().GetContacts()}
}

// fileInTimeline is the timeline consumer's handler: it files what an event
// says about contacts in their timelines, in the inbox's transaction.
func fileInTimeline(ctx context.Context, tx pgx.Tx, e events.Event) error {
	ch, err := service.TimelineOf(e)
	if err != nil {
		return err
	}
	if ch.Remove != uuid.Nil {
		if err := store.RemoveTimeline(ctx, tx, e.TenantID, ch.Remove); err != nil {
			return err
		}
	}
	return store.AddTimeline(ctx, tx, e.TenantID, ch.Add...)
}
