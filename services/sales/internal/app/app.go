package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/kit"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/pkg/telemetry"
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
	cfg       Config
	log       *slog.Logger
	pool      *pgxpool.Pool
	writer    *kafka.Writer
	directory *tenancy.Directory
	relay     *events.Relay
	applier   *tenancy.Applier
	contacts  *events.Consumer
	handler   http.Handler
	loaded    chan struct{}
}

// New migrates the database (when configured) and assembles the service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if cfg.MigrateDatabaseURL != "" {
		if err := postgres.Migrate(ctx, cfg.MigrateDatabaseURL, cfg.AppRole, postgres.Platform(), migrations.Set()); err != nil {
			return nil, err
		}
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(ctx, cfg.Auth)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &App{cfg: cfg, log: log, pool: pool, writer: events.NewWriter(cfg.Brokers), directory: tenancy.NewDirectory(), loaded: make(chan struct{})}
	a.relay = events.NewRelay(pool, a.writer, events.RelayOptions{Service: Name})
	a.applier, err = tenancy.NewApplier(tenancy.ApplierConfig{Service: Name, Brokers: cfg.Brokers, Pool: pool,
		Directory: a.directory, Hook: salesdb.Tenants{}, DLQ: a.writer})
	if err != nil {
		a.Close()
		return nil, err
	}
	var client service.Contacts
	if cfg.ContactsURL != nil {
		client = contactsapi.New(cfg.ContactsURL)
	}
	svc := service.New(salesdb.NewStore(pool), client, a.settings, log)
	a.contacts, err = events.NewConsumer(events.ConsumerConfig{Brokers: cfg.Brokers, Group: Name + ".contacts",
		Topics: []string{service.ContactsTopic}, Pool: pool, DLQ: a.writer, Filter: service.Projected,
		Handler: func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			return svc.ApplyContactsEvent(ctx, salesdb.RepoOf(tx, e.TenantID), e)
		}})
	if err != nil {
		a.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	transport.Routes(mux, endpoint.Make(svc, kit.NewObserver(Name, log)))
	scopeOf := func(r *http.Request) (uuid.UUID, string, bool) {
		p, ok := auth.PrincipalFrom(r.Context())
		return p.TenantID, p.UserID, ok
	}
	v1 := auth.Middleware(verifier)(a.directory.Middleware(
		httpkit.Idempotency(httpkit.NewPostgresIdempotencyStore(pool), scopeOf)(withCaller(httpkit.ProblemMux(mux)))))
	root := http.NewServeMux()
	root.Handle("/v1/", v1)
	// The API description is public: clients read it before they hold a token.
	root.HandleFunc("GET /v1/sales/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(api.OpenAPI)
	})
	root.Handle("GET /metrics", telemetry.MetricsHandler())
	httpkit.Health(root, a.ready)
	inner := httpkit.BodyLimit(httpkit.DefaultBodyLimit)(httpkit.ValidQuery(httpkit.ProblemMux(root)))
	a.handler = httpkit.Instrument(Name, httpkit.RequestID(httpkit.Recover(httpkit.AccessLog(log)(inner))))
	return a, nil
}

// withCaller keeps what calls to the contacts service pass on for the user.
func withCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(service.WithCaller(r.Context(), service.Caller{
			Authorization: r.Header.Get("Authorization"), IdempotencyKey: r.Header.Get("Idempotency-Key")})))
	})
}

// settings are the tenant's defaults from its record.
func (a *App) settings(tenant uuid.UUID) service.Settings {
	t, ok := a.directory.Lookup(tenant)
	if !ok || t.Record == nil {
		return service.Settings{}
	}
	return service.Settings{Locale: t.Record.GetLocale(), BaseCurrency: t.Record.GetBaseCurrency()}
}

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Directory is the service's view of its tenants.
func (a *App) Directory() *tenancy.Directory { return a.directory }

func (a *App) ready(ctx context.Context) error {
	if err := a.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	select {
	case <-a.loaded:
		return nil
	default:
		return errors.New("tenant directory not loaded yet")
	}
}

// Run serves HTTP on cfg.HTTPAddr (or l when given) and runs the outbox
// relay, the tenancy applier and the contacts projection until ctx ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context, l net.Listener) error {
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", a.cfg.HTTPAddr); err != nil {
			return err
		}
	}
	if err := tenancy.LoadDirectory(ctx, a.pool, a.directory); err != nil {
		return err
	}
	close(a.loaded)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpkit.Serve(ctx, l, a.handler, a.log, 10*time.Second) })
	g.Go(func() error { return a.relay.Run(ctx) })
	g.Go(func() error { return a.applier.Run(ctx) })
	g.Go(func() error { return a.contacts.Run(ctx) })
	return g.Wait()
}

// Close releases the pool and the Kafka writer.
func (a *App) Close() {
	if a.writer != nil {
		_ = a.writer.Close()
	}
	a.pool.Close()
}
