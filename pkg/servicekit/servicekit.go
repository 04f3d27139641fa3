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
	"net/url"
	"os"
	"strconv"
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
	"github.com/rapportcrm/rapport/pkg/observe"
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
	// MigrateOnly applies the migrations and stops (MIGRATE_ONLY=true):
	// a release's migration Job, which runs once before the new replicas,
	// so that they never migrate concurrently.
	MigrateOnly bool
	Brokers     []string
	Auth        auth.Config
}

// ErrMigrated ends New in MigrateOnly mode once the migrations are applied;
// Program reports it as success.
var ErrMigrated = errors.New("servicekit: migrations applied, nothing else to run")

// ConfigFromEnv reads the configuration, naming the first missing variable;
// addr is the default listen address.
func ConfigFromEnv(addr string) (Config, error) {
	cfg := Config{
		HTTPAddr:           addr,
		DatabaseURL:        os.Getenv("DATABASE_URL"),
		MigrateDatabaseURL: os.Getenv("MIGRATE_DATABASE_URL"),
		AppRole:            os.Getenv("DATABASE_APP_ROLE"),
	}
	if v := strings.TrimSpace(os.Getenv("MIGRATE_ONLY")); v != "" {
		only, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("MIGRATE_ONLY must be true or false, got %q", v)
		}
		cfg.MigrateOnly = only
	}
	if cfg.MigrateOnly {
		switch {
		case cfg.MigrateDatabaseURL == "":
			return cfg, fmt.Errorf("MIGRATE_DATABASE_URL is required with MIGRATE_ONLY (the migration role's connection string)")
		case cfg.AppRole == "":
			return cfg, fmt.Errorf("DATABASE_APP_ROLE is required with MIGRATE_ONLY (the role the migrations grant row access to)")
		}
		return cfg, nil
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
	// Observer logs and measures the service's use-case calls (its go-kit
	// endpoints' middleware).
	Observer *observe.Observer
	cfg      Config
	verifier auth.Verifier
	relay    *events.Relay
	applier  *tenancy.Applier
	loaded   chan struct{}
	handler  http.Handler
	more     []func(context.Context) error
}

// New migrates the database (when configured: the platform's tables, then
// sets) and connects the service called name; hook is its part of applying
// a tenant record. In MigrateOnly mode it stops after migrating, with
// ErrMigrated.
func New(ctx context.Context, name string, cfg Config, log *slog.Logger, hook tenancy.Hook, sets ...postgres.MigrationSet) (*Base, error) {
	if cfg.MigrateDatabaseURL != "" {
		if err := postgres.Migrate(ctx, cfg.MigrateDatabaseURL, cfg.AppRole, append([]postgres.MigrationSet{postgres.Platform()}, sets...)...); err != nil {
			return nil, err
		}
		if cfg.MigrateOnly {
			log.InfoContext(ctx, "migrations applied", "service", name)
			return nil, ErrMigrated
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
	b := &Base{Name: name, Log: log, Pool: pool, Writer: events.NewWriter(cfg.Brokers), Directory: dir, Observer: observe.New(name, log),
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

// API is a service's HTTP surface; the service adds only its routes, and
// Base.Serve puts the same edge around them in every service.
type API struct {
	// DocPath serves Doc, the service's OpenAPI document, without a token:
	// clients read it before they hold one.
	DocPath string
	Doc     []byte
	// Routes registers the service's JSON routes (all under /v1/).
	Routes func(*http.ServeMux)
	// Uploads, when set, registers routes that take files rather than JSON.
	Uploads *Uploads
}

// Uploads are routes that take files: a POST to one of Paths may send up
// to Limit bytes, and no Idempotency-Key replay applies (it would hold the
// whole file in memory). Every route under Paths (the path itself and
// what lies below it) goes to Routes' mux.
type Uploads struct {
	Paths  []string
	Limit  int64
	Routes func(*http.ServeMux)
}

// Serve makes the service's handler from api; Run serves it. The edge,
// outermost first: metrics, request id, panics as 500 problems and the
// access log; the body limit; the query's syntax (httpkit.ValidQuery);
// the API document and health, which need no token; then, under /v1/, a
// verified token of an admitted tenant, the Idempotency-Key replay, the
// caller kept for calls to peers, and the routes (an unknown route or
// method answers a problem).
func (b *Base) Serve(api API) http.Handler {
	root := http.NewServeMux()
	root.HandleFunc("GET "+api.DocPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(api.Doc)
	})
	httpkit.Health(root, b.ready)
	mux := http.NewServeMux()
	api.Routes(mux)
	root.Handle("/v1/", b.authenticated(b.idempotent(httpkit.KeepCaller(httpkit.ProblemMux(mux)))))
	inner := httpkit.ValidQuery(httpkit.ProblemMux(root))
	limited := httpkit.BodyLimit(httpkit.DefaultBodyLimit)(inner)
	if u := api.Uploads; u != nil {
		files := http.NewServeMux()
		u.Routes(files)
		h := b.authenticated(httpkit.KeepCaller(httpkit.ProblemMux(files)))
		large := map[string]bool{}
		for _, p := range u.Paths {
			root.Handle(p, h)
			root.Handle(p+"/", h)
			large[p] = true
		}
		small, big := limited, httpkit.BodyLimit(u.Limit)(inner)
		limited = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && large[r.URL.Path] {
				big.ServeHTTP(w, r)
				return
			}
			small.ServeHTTP(w, r)
		})
	}
	b.handler = httpkit.Instrument(b.Name, httpkit.RequestID(httpkit.Recover(httpkit.AccessLog(b.Log)(limited))))
	return b.handler
}

// Handler is the handler Serve made.
func (b *Base) Handler() http.Handler { return b.handler }

// authenticated admits requests with a verified token (a JWT, or a tenant
// API key known to the directory) of a tenant the directory admits.
func (b *Base) authenticated(h http.Handler) http.Handler {
	return auth.Middleware(b.verifier)(b.Directory.Middleware(h))
}

// idempotent replays the answer to a POST repeated with its Idempotency-Key
// (per tenant and caller).
func (b *Base) idempotent(h http.Handler) http.Handler {
	scopeOf := func(r *http.Request) (uuid.UUID, string, bool) {
		p, ok := auth.PrincipalFrom(r.Context())
		return p.TenantID, p.UserID, ok
	}
	return httpkit.Idempotency(httpkit.NewPostgresIdempotencyStore(b.Pool), scopeOf)(h)
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

// Also adds work Run runs beside the service's own: its consumers and
// workers. Each runs until its context ends; an error stops the service.
func (b *Base) Also(runs ...func(context.Context) error) { b.more = append(b.more, runs...) }

// Run loads the tenant directory, then serves the handler Serve made on the
// configured address (or l when given), the ops endpoints on OpsAddr, and
// runs the outbox relay, the tenancy applier and what Also added until ctx
// ends, then shuts down gracefully.
func (b *Base) Run(ctx context.Context, l net.Listener) error {
	h := b.handler
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
	for _, run := range b.more {
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

// Peer reads the base URL of the service name the service calls
// (httpkit.PeerURLFromEnv); in MigrateOnly mode, which calls nobody, it is
// neither read nor required.
func (c Config) Peer(name string) (*url.URL, error) {
	if c.MigrateOnly {
		return nil, nil
	}
	return httpkit.PeerURLFromEnv(name)
}
