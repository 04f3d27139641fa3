package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"golang.org/x/sync/errgroup"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/ops"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/gateway/internal/bff"
	"github.com/rapportcrm/rapport/services/gateway/internal/metering"
	"github.com/rapportcrm/rapport/services/gateway/internal/ratelimit"
	"github.com/rapportcrm/rapport/services/gateway/internal/readiness"
	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
	webapp "github.com/rapportcrm/rapport/services/gateway/web"
)

// Name is the gateway's name in telemetry.
const Name = "gateway"

// ShutdownTimeout bounds how long in-flight requests may finish after SIGTERM.
const ShutdownTimeout = 15 * time.Second

// App is the assembled gateway.
type App struct {
	cfg       Config
	log       *slog.Logger
	directory *tenancy.Directory
	checker   *readiness.Checker
	handler   http.Handler
}

// New assembles the gateway. The tenant directory starts empty; Run keeps it
// current from crm.tenants.v1.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	verifier, err := auth.NewVerifier(ctx, cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &App{cfg: cfg, log: log, directory: tenancy.NewDirectory(),
		checker: readiness.NewChecker(cfg.Upstreams, readiness.DefaultTimeout)}

	api := http.NewServeMux()
	if err := routing.Default.Register(api, cfg.Upstreams, upstreamTransport(), log); err != nil {
		return nil, err
	}
	meter, err := metering.Middleware(otel.GetMeterProvider())
	if err != nil {
		return nil, err
	}
	limiters := ratelimit.NewLimiters(cfg.DefaultRPS, cfg.Burst)
	guard, err := ratelimit.NewGuard(ratelimit.NewClients(cfg.UnauthRPS, cfg.UnauthBurst, cfg.TrustedProxies), otel.GetMeterProvider())
	if err != nil {
		return nil, err
	}
	// A tenant API key is verified against the directory; services verify it
	// again against their own, as they do a JWT.
	verify := auth.WithAPIKeys(verifier, a.directory.APIKeyVerifier())
	remembered := func(token string) bool { return auth.Remembered(verify, token) }
	// The guard comes first: an address that keeps failing is refused before
	// its tokens cost a signature check.
	v1 := guard.Middleware(remembered)(auth.Middleware(guard.Charging(verify))(meter(a.directory.Middleware(ratelimit.Middleware(limiters)(api)))))

	web, err := bff.New(cfg.Web, cfg.Auth, verify, a.directory, log)
	if err != nil {
		return nil, err
	}
	root := http.NewServeMux()
	// The web application's session cookie becomes the bearer token of its
	// API calls before anything else looks at them.
	root.Handle("/v1/", web.Bearer(v1))
	web.Register(root)
	// Services' API descriptions are public: clients read them before they
	// hold a token. They are proxied untouched, without tenant or quota.
	root.Handle("GET /v1/{service}/openapi.json", api)
	// Probes use the API port's health; metrics, which name tenants, are on
	// the ops listener only.
	httpkit.Health(root, a.checker.Ready)
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpkit.EncodeError(r.Context(), apperr.New(apperr.KindNotFound, "not-found", "no API at "+r.URL.Path), w)
	})
	// Every other page is the web application's.
	pages := bff.App(webapp.Dist(), notFound, cfg.Web.PublicURL != nil && cfg.Web.PublicURL.Scheme == "https")
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			pages.ServeHTTP(w, r)
			return
		}
		notFound.ServeHTTP(w, r)
	})
	// A query the services could not read is refused here: the reverse
	// proxy would otherwise pass on only what it can parse and silently drop
	// the rest (a parameter after a ';').
	a.handler = httpkit.Instrument(Name, httpkit.RequestID(httpkit.Recover(httpkit.AccessLog(log)(httpkit.ValidQuery(root)))))
	return a, nil
}

// upstreamTransport pools connections generously (the default keeps two idle
// per host, far too few for a gateway) and propagates the trace context.
func upstreamTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	return otelhttp.NewTransport(t)
}

// Handler is the gateway's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Directory is the gateway's view of the tenants.
func (a *App) Directory() *tenancy.Directory { return a.directory }

// Run serves HTTP on cfg.Addr (or l when given), the ops endpoints on
// cfg.OpsAddr (when set), and keeps the tenant directory current until ctx
// ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context, l net.Listener) error {
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", a.cfg.Addr); err != nil {
			return err
		}
	}
	opsL, err := ops.Listen(a.cfg.OpsAddr)
	if err != nil {
		_ = l.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ops.Serve(ctx, opsL, a.checker.Ready, a.log) })
	g.Go(func() error { return httpkit.Serve(ctx, l, a.handler, a.log, ShutdownTimeout) })
	g.Go(func() error { a.watchDirectory(ctx); return nil })
	return g.Wait()
}

// watchDirectory starts following crm.tenants.v1, retrying while the broker
// or the topic is not there yet; /readyz says so meanwhile.
func (a *App) watchDirectory(ctx context.Context) {
	wait := 100 * time.Millisecond
	for {
		err := tenancy.WatchDirectory(ctx, a.cfg.Brokers, a.directory)
		if err == nil {
			a.checker.DirectoryLoaded()
			a.log.InfoContext(ctx, "tenant directory following "+tenancy.TopicTenants)
			return
		}
		a.log.WarnContext(ctx, "tenant directory: cannot follow "+tenancy.TopicTenants+" yet", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
