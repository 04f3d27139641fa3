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
	"github.com/rapportcrm/rapport/services/sales/api"
	"github.com/rapportcrm/rapport/services/sales/internal/adapters/contactsapi"
	salesdb "github.com/rapportcrm/rapport/services/sales/internal/adapters/postgres"
	"github.com/rapportcrm/rapport/services/sales/internal/endpoint"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
	"github.com/rapportcrm/rapport/services/sales/internal/transport"
	"github.com/rapportcrm/rapport/services/sales/migrations"
)

// Name is the service's name in acknowledgements, telemetry and consumer groups.
const Name = "sales"

// App is the assembled sales service.
type App struct {
	*servicekit.Base
	contacts *events.Consumer
	handler  http.Handler
}

// New migrates the database (when configured) and assembles the service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	base, err := servicekit.New(ctx, Name, cfg.Config, log, salesdb.Tenants{}, migrations.Set())
	if err != nil {
		return nil, err
	}
	a := &App{Base: base}
	var client service.Contacts
	if cfg.ContactsURL != nil {
		client = contactsapi.New(cfg.ContactsURL)
	}
	svc := service.New(salesdb.NewStore(base.Pool), client, a.settings, log)
	a.contacts, err = base.Consumer("contacts", []string{service.ContactsTopic}, service.Projected,
		func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			return svc.ApplyContactsEvent(ctx, salesdb.RepoOf(tx, e.TenantID), e)
		})
	if err != nil {
		base.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	transport.Routes(mux, endpoint.Make(svc, kit.NewObserver(Name, log)))
	root := base.Root("/v1/sales/openapi.json", api.OpenAPI)
	root.Handle("/v1/", base.Authenticated(base.Idempotent(httpkit.KeepCaller(httpkit.ProblemMux(mux)))))
	a.handler = base.Outermost(httpkit.BodyLimit(httpkit.DefaultBodyLimit)(httpkit.ValidQuery(httpkit.ProblemMux(root))))
	return a, nil
}

// settings are the tenant's defaults from its record.
func (a *App) settings(tenant uuid.UUID) service.Settings {
	rec := a.Record(tenant)
	if rec == nil {
		return service.Settings{}
	}
	return service.Settings{Locale: rec.GetLocale(), BaseCurrency: rec.GetBaseCurrency()}
}

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Directory is the service's view of its tenants.
func (a *App) Directory() *tenancy.Directory { return a.Base.Directory }

// Run serves HTTP on the configured address (or l when given) and runs the
// outbox relay, the tenancy applier and the contacts projection until ctx
// ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context, l net.Listener) error {
	return a.Base.Run(ctx, l, a.handler, a.contacts.Run)
}
