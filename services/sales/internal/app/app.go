package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/sales/api"
	"github.com/rapportcrm/rapport/services/sales/internal/adapters/contactsapi"
	"github.com/rapportcrm/rapport/services/sales/internal/adapters/store"
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
}

// New migrates the database (when configured) and assembles the service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	base, err := servicekit.New(ctx, Name, cfg.Config, log, store.Tenants{}, migrations.Set())
	if err != nil {
		return nil, err
	}
	a := &App{Base: base}
	var client service.Contacts
	if cfg.ContactsURL != nil {
		client = contactsapi.New(cfg.ContactsURL)
	}
	svc := service.New(store.NewStore(base.Pool).Stores(), client, a.settings, log)
	contacts, err := base.Consumer("contacts", []string{service.ContactsTopic}, service.Projected,
		func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			return svc.ApplyContactsEvent(ctx, store.ProjectionOf(tx, e.TenantID), e)
		})
	if err != nil {
		base.Close()
		return nil, err
	}
	tasks, err := base.Consumer("tasks", []string{service.TasksTopic}, service.TaskEvent,
		func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			return svc.ApplyTasksEvent(ctx, store.TaskStepsOf(tx, e.TenantID), e)
		})
	if err != nil {
		base.Close()
		return nil, err
	}
	base.Also(contacts.Run, tasks.Run)
	base.Serve(servicekit.API{DocPath: "/v1/sales/openapi.json", Doc: api.OpenAPI,
		Routes: func(mux *http.ServeMux) { transport.Routes(mux, endpoint.Make(svc, base.Observer)) }})
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
