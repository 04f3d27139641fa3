// Package servicekit is what every domain service stands on: its
// configuration, its migrated database, the Kafka writer, the tenant
// directory and the tenancy applier that keeps it, the outbox relay, token
// verification, and the HTTP stack around the service's own routes. A
// service's app package adds its use cases, routes and consumers.
package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/ops"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// Config is what every domain service needs from its environment.
type Config struct {
	HTTPAddr string
	// OpsAddr serves /metrics, /healthz and /readyz apart from the API
	// (package ops); empty serves none, as in tests that need none.
	OpsAddr string
	// DatabaseURL connects as the app role, which owns no table.
	DatabaseURL string
	// MigrateDatabaseURL connects as the owner role; when set, the service
	// applies its migrations at start and grants AppRole row access.
	MigrateDatabaseURL string
	AppRole            string
	Brokers            []string
	Auth               auth.Config
}

// ConfigFromEnv reads the configuration, naming the first missing variable;
// addr is the default listen address.
func ConfigFromEnv(addr string) (Config, error) {
	cfg := Config{
		HTTPAddr:           addr,
		DatabaseURL:        os.Getenv("DATABASE_URL"),
		MigrateDatabaseURL: os.Getenv("MIGRATE_DATABASE_URL"),
		AppRole:            os.Getenv("DATABASE_APP_ROLE"),
	}
	if v := os.Getenv("HTTP_ADDR"); v != "" {
		cfg.HTTPAddr = v
	}
	opsAddr, err := ops.AddrFromEnv(cfg.HTTPAddr)
	if err != nil {
		return cfg, err
	}
	cfg.OpsAddr = opsAddr
	if cfg.DatabaseURL == "" {
		return cfg, fmt.Errorf("DATABASE_URL is required (the app role's connection string)")
	}
	if cfg.MigrateDatabaseURL != "" && cfg.AppRole == "" {
		return cfg, fmt.Errorf("DATABASE_APP_ROLE is required when MIGRATE_DATABASE_URL is set")
	}
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		return cfg, fmt.Errorf("KAFKA_BROKERS is required (comma-separated host:port)")
	}
	cfg.Brokers = strings.Split(brokers, ",")
	a, err := auth.ConfigFromEnv()
	if err != nil {
		return cfg, err
	}
	cfg.Auth = a
	return cfg, nil
}

// Base is a domain service's platform part.
type Base struct {
	Name      string
	Log       *slog.Logger
	Pool      *pgxpool.Pool
	Writer    *kafka.Writer
	Directory *tenancy.Directory
	cfg       Config
	verifier  auth.Verifier
	relay     *events.Relay
	applier   *tenancy.Applier
	loaded    chan struct{}
}

// New migrates the database (when configured: the platform's tables, then
// sets) and connects the service called name; hook is its part of applying
// a tenant record.
func New(ctx context.Context, name string, cfg Config, log *slog.Logger, hook tenancy.Hook, sets ...postgres.MigrationSet) (*Base, error) {
	if cfg.MigrateDatabaseURL != "" {
		if err := postgres.Migrate(ctx, cfg.MigrateDatabaseURL, cfg.AppRole, append([]postgres.MigrationSet{postgres.Platform()}, sets...)...); err != nil {
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
	dir := tenancy.NewDirectory()
	b := &Base{Name: name, Log: log, Pool: pool, Writer: events.NewWriter(cfg.Brokers), Directory: dir,
		cfg: cfg, verifier: auth.WithAPIKeys(verifier, dir.APIKeyVerifier()), loaded: make(chan struct{})}
	b.relay = events.NewRelay(pool, b.Writer, events.RelayOptions{Service: name})
	b.applier, err = tenancy.NewApplier(tenancy.ApplierConfig{Service: name, Brokers: cfg.Brokers, Pool: pool,
		Directory: b.Directory, Hook: hook, DLQ: b.Writer})
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Consumer makes a consumer group of this service, "<name>.<group>", whose
// dead letters go through the service's writer.
func (b *Base) Consumer(group string, topics []string, filter func(events.Event) bool, h events.Handler) (*events.Consumer, error) {
	return events.NewConsumer(events.ConsumerConfig{Brokers: b.cfg.Brokers, Group: b.Name + "." + group, Topics: topics,
		Pool: b.Pool, Handler: h, DLQ: b.Writer, Filter: filter})
}

// Record is a tenant's record as the directory holds it (nil when unknown).
func (b *Base) Record(tenant uuid.UUID) *tenancyv1.TenantRecord {
	t, ok := b.Directory.Lookup(tenant)
	if !ok {
		return nil
	}
	return t.Record
}

// Authenticated admits requests with a verified token (a JWT, or a tenant
// API key known to the directory) of a tenant the directory admits.
func (b *Base) Authenticated(h http.Handler) http.Handler {
	return auth.Middleware(b.verifier)(b.Directory.Middleware(h))
}

// Idempotent replays the answer to a POST repeated with its Idempotency-Key
// (per tenant and caller).
func (b *Base) Idempotent(h http.Handler) http.Handler {
	scopeOf := func(r *http.Request) (uuid.UUID, string, bool) {
		p, ok := auth.PrincipalFrom(r.Context())
		return p.TenantID, p.UserID, ok
	}
	return httpkit.Idempotency(httpkit.NewPostgresIdempotencyStore(b.Pool), scopeOf)(h)
}

// Root is the service's outer mux: the public API document at docPath and
// health (probes use the API port); the service adds its /v1/ routes.
// Metrics are on the ops listener only.
func (b *Base) Root(docPath string, doc []byte) *http.ServeMux {
	root := http.NewServeMux()
	// The API description is public: clients read it before they hold a token.
	root.HandleFunc("GET "+docPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	httpkit.Health(root, b.ready)
	return root
}

// Outermost wraps the whole handler: metrics, request ids, panics turned
// into 500 problems, and the access log.
func (b *Base) Outermost(h http.Handler) http.Handler {
	return httpkit.Instrument(b.Name, httpkit.RequestID(httpkit.Recover(httpkit.AccessLog(b.Log)(h))))
}

func (b *Base) ready(ctx context.Context) error {
	if err := b.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	select {
	case <-b.loaded:
		return nil
	default:
		return errors.New("tenant directory not loaded yet")
	}
}

// Run loads the tenant directory, then serves h on the configured address
// (or l when given), the ops endpoints on OpsAddr, and runs the outbox
// relay, the tenancy applier and more until ctx ends, then shuts down
// gracefully.
func (b *Base) Run(ctx context.Context, l net.Listener, h http.Handler, more ...func(context.Context) error) error {
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", b.cfg.HTTPAddr); err != nil {
			return err
		}
	}
	opsL, err := ops.Listen(b.cfg.OpsAddr)
	if err != nil {
		_ = l.Close()
		return err
	}
	if err := tenancy.LoadDirectory(ctx, b.Pool, b.Directory); err != nil {
		if opsL != nil {
			_ = opsL.Close()
		}
		return err
	}
	close(b.loaded)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpkit.Serve(ctx, l, h, b.Log, 10*time.Second) })
	g.Go(func() error { return ops.Serve(ctx, opsL, b.ready, b.Log) })
	g.Go(func() error { return b.relay.Run(ctx) })
	g.Go(func() error { return b.applier.Run(ctx) })
	for _, run := range more {
		g.Go(func() error { return run(ctx) })
	}
	return g.Wait()
}

// Close releases the pool and the Kafka writer.
func (b *Base) Close() {
	if b.Writer != nil {
		_ = b.Writer.Close()
	}
	b.Pool.Close()
}
