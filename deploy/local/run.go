package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// config is everything run needs; main fills it from flags and the
// environment, tests from a temporary folder and free ports.
type config struct {
	// Root is the repository root (holding go.work): services build from it.
	Root string
	// DataDir keeps PostgreSQL, the broker's log, keys, binaries and logs.
	DataDir   string
	PGPort    int
	KafkaPort int
	// KafkaBrokers, when set, replace the embedded broker.
	KafkaBrokers []string
	GatewayPort  int
	// ServicePort is the first domain service's port (contacts).
	ServicePort int
	// TenantRPS is the demo tenants' requests-per-second quota, which the
	// gateway enforces (429 over it).
	TenantRPS int64
	// Env is the caller's environment; OTEL_* and a few basics pass through.
	Env []string
	// Out receives every line: ours and the services'.
	Out   io.Writer
	Color bool
	// ReadyTimeout bounds each service's wait for /readyz, AckTimeout the
	// wait for the tenants' acknowledgements, StopGrace a service's shutdown.
	ReadyTimeout time.Duration
	AckTimeout   time.Duration
	StopGrace    time.Duration
	// Ready, when set, is called once everything is up.
	Ready func(running)
}

// running is what a started platform offers.
type running struct {
	GatewayURL string
	// ServiceURLs by domain service name.
	ServiceURLs map[string]string
	Brokers     []string
	// Postgres is the cluster's superuser URL.
	Postgres string
	// Token is an admin dev token for the tenant demo, valid for TokenTTL.
	Token    string
	TokenTTL time.Duration
	// MetricsURLs are every program's Prometheus endpoints by name, on
	// their ops ports.
	MetricsURLs map[string]string
	TenantRPS   int64
}

// selfName prefixes make run's own lines.
const selfName = "local"

// run starts the whole platform and keeps it running until ctx ends (nil
// then, once everything stopped cleanly) or a service dies (its error).
func run(ctx context.Context, cfg config) (err error) {
	con := newConsole(cfg.Out, cfg.Color)
	l := layout{dir: cfg.DataDir}
	names, err := discoverServices(cfg.Root)
	if err != nil {
		return err
	}
	con.fit(names...)
	say := con.writer(selfName, nil)
	defer func() {
		// Ctrl-C while starting is a clean stop, not a failure.
		if err != nil && ctx.Err() != nil {
			err = nil
		}
	}()

	domain, gateway := plan(names, cfg.GatewayPort, cfg.ServicePort)
	if err := checkPorts(cfg, domain, gateway); err != nil {
		return err
	}
	// The banner's token lives 12 hours, or less when the services accept less.
	maxTTL, err := auth.ParseMaxTokenLifetime(passThrough(cfg.Env)["AUTH_MAX_TOKEN_LIFETIME"])
	if err != nil {
		return err
	}
	tokenTTL := min(12*time.Hour, maxTTL)
	if cfg.TenantRPS <= 0 {
		return fmt.Errorf("the demo tenants' quota must be a positive number of requests per second, got %d", cfg.TenantRPS)
	}
	for _, d := range []string{l.logs(), l.bin()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := writeIssuerKeys(l); err != nil {
		return err
	}
	sessionKeys, err := webSessionKey(l)
	if err != nil {
		return err
	}

	// Compile while the database and the broker start.
	buildCtx, cancelBuild := context.WithCancel(ctx)
	waitBuild := startBuild(buildCtx, cfg.Root, l.bin(), names, con.writer("build", nil))
	defer func() { cancelBuild(); _ = waitBuild() }()

	pg, err := startPostgres(ctx, l, cfg.PGPort, say)
	if err != nil {
		return err
	}
	defer func() {
		say.Printf("stopping PostgreSQL")
		_ = pg.stop()
	}()

	brokers := cfg.KafkaBrokers
	if len(brokers) == 0 {
		k, addrs, err := startKafka(l, cfg.KafkaPort, say)
		if err != nil {
			return err
		}
		defer func() {
			say.Printf("stopping the embedded Kafka broker (its data stays in %s)", l.kafka())
			k.stop()
		}()
		brokers = addrs
	} else {
		say.Printf("using the Kafka brokers of KAFKA_BROKERS: %s", strings.Join(brokers, ","))
	}
	if err := createTopics(ctx, brokers, topics); err != nil {
		return err
	}

	dbNames := make([]string, len(domain))
	for i, s := range domain {
		dbNames[i] = s.Name
	}
	dbs, err := pg.databases(ctx, dbNames)
	if err != nil {
		return err
	}
	if err := waitBuild(); err != nil {
		return err
	}

	signinURL, err := startSignin(ctx, l, maxTTL)
	if err != nil {
		return err
	}
	sh := shared{Brokers: brokers, PublicKeyFile: l.issuerPub(), SigninURL: signinURL, SessionKeys: sessionKeys, Caller: cfg.Env}
	sup := newSupervisor(ctx, con, l, cfg.ReadyTimeout, say)
	defer sup.stop(cfg.StopGrace)
	for _, s := range domain {
		if err := sup.start(s, domainEnv(s, dbs[s.Name], sh, domain)); err != nil {
			return err
		}
	}
	if gateway != nil {
		if err := sup.start(*gateway, gatewayEnv(*gateway, domain, sh)); err != nil {
			return err
		}
	}

	if err := provisionTenants(sup.live, brokers, dbNames, cfg.TenantRPS, cfg.AckTimeout, say); err != nil {
		if err = sup.cause(err); ctx.Err() == nil && sup.live.Err() == nil {
			err = fmt.Errorf("%w (the services' logs are in %s)", err, l.logs())
		}
		return err
	}
	token, err := issueToken(l, tokenRequest{Tenant: "demo", Role: "admin", TTL: tokenTTL, MaxTTL: maxTTL})
	if err != nil {
		return err
	}
	up := running{Brokers: brokers, Postgres: pg.cluster.URL("postgres", "postgres"), Token: token, TokenTTL: tokenTTL,
		ServiceURLs: map[string]string{}, MetricsURLs: map[string]string{}, TenantRPS: cfg.TenantRPS}
	for _, s := range domain {
		up.ServiceURLs[s.Name] = s.URL()
		up.MetricsURLs[s.Name] = s.MetricsURL()
	}
	if gateway != nil {
		up.GatewayURL = gateway.URL()
		up.MetricsURLs[gateway.Name] = gateway.MetricsURL()
	}
	con.print(banner(up, l))
	if cfg.Ready != nil {
		cfg.Ready(up)
	}

	<-sup.live.Done()
	if ctx.Err() != nil {
		say.Printf("stopping")
		return nil
	}
	return context.Cause(sup.live)
}

// checkPorts fails early, naming the port and the flag that moves it, when
// something already listens where a component would, or two components
// would share a port.
func checkPorts(cfg config, domain []service, gateway *service) error {
	type use struct {
		port      int
		what, fix string
	}
	uses := []use{{cfg.PGPort, "PostgreSQL", "choose another with -pg-port"}}
	if len(cfg.KafkaBrokers) == 0 {
		uses = append(uses, use{cfg.KafkaPort, "the embedded Kafka broker", "choose another with -kafka-port, or point KAFKA_BROKERS at a running broker"})
	}
	for _, s := range domain {
		uses = append(uses, use{s.Port, s.Name, "-service-port moves the services"},
			use{s.OpsPort(), s.Name + "'s metrics (ops port)", "-service-port moves the services and their ops ports"})
	}
	if gateway != nil {
		uses = append(uses, use{gateway.Port, gateway.Name, "choose another with -gateway-port"},
			use{gateway.OpsPort(), "the gateway's metrics (ops port)", "-gateway-port moves the gateway and its ops port"})
	}
	taken := map[int]string{}
	for _, u := range uses {
		if other, ok := taken[u.port]; ok {
			return fmt.Errorf("port %d would serve both %s and %s: %s", u.port, other, u.what, u.fix)
		}
		taken[u.port] = u.what
	}
	for _, u := range uses {
		if err := portFree(u.port); err != nil {
			return fmt.Errorf("port %d for %s is taken (%v): is another make run still running? Otherwise stop what listens there or %s", u.port, u.what, err, u.fix)
		}
	}
	return nil
}

// banner tells the user where everything is.
func banner(up running, l layout) string {
	url := up.GatewayURL
	if url == "" {
		url = up.ServiceURLs["contacts"]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nRapport is running.\n\n")
	if up.GatewayURL != "" {
		fmt.Fprintf(&b, "  web       %s (open it in a browser: the development sign-in asks tenant, role and user)\n", up.GatewayURL)
		fmt.Fprintf(&b, "  gateway   %s/v1/\n", up.GatewayURL)
	} else {
		fmt.Fprintf(&b, "  gateway   none yet (no services/gateway/cmd/gateway): talk to the services directly\n")
	}
	for _, t := range demoTenants {
		fmt.Fprintf(&b, "  tenant    %-10s %s\n", t.Name, tenancy.LocalID(t.Name))
	}
	fmt.Fprintf(&b, "  quota     %d requests/s per tenant (-tenant-rps; over it the gateway answers 429)\n", up.TenantRPS)
	fmt.Fprintf(&b, "  data      %s (logs in %s)\n", l.dir, l.logs())
	if len(up.MetricsURLs) > 0 {
		fmt.Fprintf(&b, "\nMetrics (Prometheus, on each program's ops port):\n\n")
		names := make([]string, 0, len(up.MetricsURLs))
		for name := range up.MetricsURLs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(&b, "  %-9s %s\n", name, up.MetricsURLs[name])
		}
	}
	fmt.Fprintf(&b, "\nAdmin dev token for demo (admin@demo, %s; another: go run ./deploy/local token -tenant demo-2 -role rep):\n\n", short(up.TokenTTL))
	fmt.Fprintf(&b, "  export TOKEN=%s\n\n", up.Token)
	if url != "" {
		fmt.Fprintf(&b, "Try:\n\n")
		fmt.Fprintf(&b, "  curl -s -X POST %s/v1/contacts -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n", url)
		fmt.Fprintf(&b, "    -d '{\"first_name\":\"Анна\",\"last_name\":\"Иванова\",\"emails\":[\"anna@example.ru\"]}'\n")
		fmt.Fprintf(&b, "  curl -s '%s/v1/contacts?limit=10' -H \"Authorization: Bearer $TOKEN\"\n\n", url)
	}
	fmt.Fprintf(&b, "Ctrl-C stops everything; the next run keeps the data.\n\n")
	return b.String()
}
