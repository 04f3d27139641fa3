// Command local is the embedded default behind `make run`: PostgreSQL, a
// Kafka-protocol broker and every service on this machine, with the demo
// tenants provisioned. `local token` prints a dev token for them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs a subcommand and returns the exit code: 0, 1 on failure, 2 on
// bad usage.
func cli(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "token" {
		return tokenCommand(args[1:], stdout, stderr)
	}
	return runCommand(args, stdout, stderr)
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data folder: PostgreSQL, Kafka, keys, binaries, logs (default <repo root>/.local)")
	pgPort := fs.Int("pg-port", 5433, "PostgreSQL port on 127.0.0.1")
	kafkaPort := fs.Int("kafka-port", 9092, "embedded Kafka broker port on 127.0.0.1 (unused when KAFKA_BROKERS is set)")
	gatewayPort := fs.Int("gateway-port", 8080, "gateway port on 127.0.0.1")
	servicePort := fs.Int("service-port", 8081, "first domain service port: the catalogued services in order (contacts, sales), then any other service (each program's metrics are 1000 ports above its own)")
	tenantRPS := fs.Int64("tenant-rps", defaultTenantRPS, "requests per second the gateway allows each demo tenant (e.g. 5 to see 429 Too Many Requests)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage:
  go run ./deploy/local [flags]        run the whole platform until Ctrl-C (make run)
  go run ./deploy/local token [flags]  print a dev token (see token -help)

Starts PostgreSQL, an embedded Kafka broker (unless KAFKA_BROKERS is set) and
every service under services/ (but the operator), provisions the tenants demo
and demo-2, and prints the gateway URL and a dev token. OTEL_* variables pass
through to every service. A second run keeps the data.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	root, err := findRoot(".")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	dataDir, err := dataFolder(*data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	cfg := config{
		Root:         root,
		DataDir:      dataDir,
		PGPort:       *pgPort,
		KafkaPort:    *kafkaPort,
		KafkaBrokers: splitList(os.Getenv("KAFKA_BROKERS")),
		GatewayPort:  *gatewayPort,
		ServicePort:  *servicePort,
		TenantRPS:    *tenantRPS,
		Env:          os.Environ(),
		Out:          stdout,
		Color:        isTerminal(stdout),
		ReadyTimeout: 60 * time.Second,
		AckTimeout:   60 * time.Second,
		StopGrace:    10 * time.Second,
	}
	// With OTEL_* set (they also pass through to every service), provisioning
	// a tenant is one trace across the runner and the services.
	shutdown, err := telemetry.Setup(ctx, "local")
	if err != nil {
		fmt.Fprintln(stderr, "make run:", err)
		return 1
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, "make run:", err)
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func tokenCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "demo", "tenant name (its id is tenancy.LocalID of the name, as make run provisions it)")
	role := fs.String("role", "admin", "role: "+strings.Join(roles, ", "))
	user := fs.String("user", "", "user id (default <role>@<tenant>, e.g. admin@demo)")
	team := fs.String("team", defaultTeam, "team id")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime of the token, at most AUTH_MAX_TOKEN_LIFETIME (default 24h), as the services accept")
	data := fs.String("data", "", "data folder holding auth/dev-issuer.pem (default <repo root>/.local)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: go run ./deploy/local token [-tenant demo] [-role admin] [-user U] [-team T] [-ttl 12h]

Prints a dev token signed by the local dev issuer, and nothing else, so that
TOKEN=$(go run ./deploy/local token -tenant demo -role admin) works.
Defaults: tenant demo, role admin, user <role>@<tenant>, team team-1, ttl 12h.
The ttl may not exceed AUTH_MAX_TOKEN_LIFETIME (default 24h), which the
services read too.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	req := tokenRequest{Tenant: *tenant, Role: *role, User: *user, Team: *team, TTL: *ttl}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "token: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	maxTTL, err := auth.MaxTokenLifetimeFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 2
	}
	req.MaxTTL = maxTTL
	if err := req.validate(); err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 2
	}
	dataDir, err := dataFolder(*data)
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	tok, err := issueToken(layout{dir: dataDir}, req)
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
