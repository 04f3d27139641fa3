package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/tasks/api"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/peers"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/store"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/timers"
	"github.com/rapportcrm/rapport/services/tasks/internal/endpoint"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
	"github.com/rapportcrm/rapport/services/tasks/internal/transport"
	"github.com/rapportcrm/rapport/services/tasks/migrations"
)

// Name is the service's name in the catalogue, acknowledgements, telemetry
// and consumer groups.
const Name = "tasks"

// App is the assembled tasks service.
type App struct {
	*servicekit.Base
}

// New migrates the database (when configured) and assembles the service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	base, err := servicekit.New(ctx, Name, cfg.Config, log, store.Tenants{}, migrations.River(), migrations.Set())
	if err != nil {
		return nil, err
	}
	var asks service.Peers
	if cfg.ContactsURL != nil && cfg.SalesURL != nil {
		asks = peers.New(cfg.ContactsURL, cfg.SalesURL)
	}
	queue, err := timers.New(base.Pool, log, service.DueEvents, cfg.Timers)
	if err != nil {
		base.Close()
		return nil, err
	}
	base.Also(queue.Run)
	svc := service.New(store.NewTasks(base.Pool, queue), store.NewConfig(base.Pool), store.NewDirectory(base.Pool), asks)
	if cfg.Clock != nil {
		svc.SetClock(cfg.Clock)
	}
	svc.SetLocales(func(tenant uuid.UUID) string { return base.Record(tenant).GetLocale() })
	project := func(ctx context.Context, tx pgx.Tx, e events.Event) error {
		return svc.ApplyEvent(ctx, store.ProjectionOf(tx, e.TenantID, queue), e)
	}
	for group, topic := range map[string]string{"contacts": service.ContactsTopic, "sales": service.SalesTopic} {
		c, err := base.Consumer(group, []string{topic}, service.Projected, project)
		if err != nil {
			base.Close()
			return nil, err
		}
		base.Also(c.Run)
	}
	base.Serve(servicekit.API{DocPath: "/v1/tasks/openapi.json", Doc: api.OpenAPI,
		Routes: func(mux *http.ServeMux) { transport.Routes(mux, endpoint.Make(svc, base.Observer)) }})
	return &App{Base: base}, nil
}
