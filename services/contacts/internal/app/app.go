package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/kit"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/contacts/api"
	contactsdb "github.com/rapportcrm/rapport/services/contacts/internal/adapters/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/adapters/salesapi"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
	"github.com/rapportcrm/rapport/services/contacts/internal/transport"
	"github.com/rapportcrm/rapport/services/contacts/migrations"
)

// Name is the service's name in acknowledgements, telemetry and consumer groups.
const Name = "contacts"

// App is the assembled contacts service.
type App struct {
	*servicekit.Base
	timeline *events.Consumer
	handler  http.Handler
	svc      service.Service
}

// New migrates the database (when configured) and assembles the service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	base, err := servicekit.New(ctx, Name, cfg.Config, log, contactsdb.Tenants{}, migrations.Set())
	if err != nil {
		return nil, err
	}
	a := &App{Base: base}
	a.timeline, err = base.Consumer("timeline", service.TimelineTopics, service.AboutContacts, fileInTimeline)
	if err != nil {
		base.Close()
		return nil, err
	}
	pool := base.Pool
	svc := service.New(contactsdb.NewContacts(pool), contactsdb.NewCompanies(pool), contactsdb.NewActivities(pool), contactsdb.NewFields(pool), contactsdb.NewImports(pool), contactsdb.NewLeadSources(pool), a.settings,
		salesapi.New(cfg.SalesURL))
	mux := http.NewServeMux()
	transport.Routes(mux, endpoint.Make(svc, kit.NewObserver(Name, log)))
	transport.LeadSourceRoutes(mux, endpoint.MakeLeadSources(svc, kit.NewObserver(Name, log)))
	v1 := base.Authenticated(base.Idempotent(httpkit.KeepCaller(httpkit.ProblemMux(mux))))

	// Imports take files, not JSON: they have their own body limit, and no
	// Idempotency-Key replay (which would hold the whole file in memory; a
	// repeated import with on_duplicate=skip creates nothing anyway).
	importMux := http.NewServeMux()
	transport.ImportRoutes(importMux, endpoint.MakeImports(svc, kit.NewObserver(Name, log)))
	imports := base.Authenticated(httpkit.ProblemMux(importMux))

	root := base.Root("/v1/contacts/openapi.json", api.OpenAPI)
	root.Handle("/v1/", v1)
	root.Handle("/v1/imports", imports)
	root.Handle("/v1/imports/", imports)
	inner := httpkit.ValidQuery(httpkit.ProblemMux(root))
	small, large := httpkit.BodyLimit(httpkit.DefaultBodyLimit)(inner), httpkit.BodyLimit(transport.MaxImportBytes)(inner)
	limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/imports" {
			large.ServeHTTP(w, r)
			return
		}
		small.ServeHTTP(w, r)
	})
	a.handler = base.Outermost(limited)
	a.svc = svc
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

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Directory is the service's view of its tenants.
func (a *App) Directory() *tenancy.Directory { return a.Base.Directory }

// Run serves HTTP on the configured address (or l when given) and runs the
// outbox relay, the tenancy applier, the timeline consumer and the import
// worker until ctx ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context, l net.Listener) error {
	return a.Base.Run(ctx, l, a.handler, a.timeline.Run,
		func(ctx context.Context) error { return a.svc.RunImports(ctx, a.Log) })
}

// fileInTimeline is the timeline consumer's handler: it files what an event
// says about contacts in their timelines, in the inbox's transaction.
func fileInTimeline(ctx context.Context, tx pgx.Tx, e events.Event) error {
	ch, err := service.TimelineOf(e)
	if err != nil {
		return err
	}
	if ch.Remove != uuid.Nil {
		if err := contactsdb.RemoveTimeline(ctx, tx, e.TenantID, ch.Remove); err != nil {
			return err
		}
	}
	return contactsdb.AddTimeline(ctx, tx, e.TenantID, ch.Add...)
}
