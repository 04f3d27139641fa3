package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/ops"
)

const gatewayName = "gateway"

// notLocal are services that cannot run on one machine as a plain process.
var notLocal = map[string]string{"operator": "needs Kubernetes"}

// portOffsets keep each catalogued domain service on the same port as
// others are added (contacts stays on the first service port, 8081, sales
// on 8082, in the catalogue's order); services not catalogued take the
// ports after these, in name order.
var portOffsets = func() map[string]int {
	offsets := map[string]int{}
	for i, name := range catalog.Names() {
		offsets[name] = i
	}
	return offsets
}()

// service is one program under services/ as `make run` starts it.
type service struct {
	Name string
	Port int
}

func (s service) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }
func (s service) URL() string  { return "http://" + s.Addr() }

// OpsPort serves the program's /metrics, /healthz and /readyz (OPS_ADDR):
// ops.PortOffset above its API port, 9080 for the gateway on 8080.
func (s service) OpsPort() int       { return s.Port + ops.PortOffset }
func (s service) OpsAddr() string    { return "127.0.0.1:" + strconv.Itoa(s.OpsPort()) }
func (s service) MetricsURL() string { return "http://" + s.OpsAddr() + "/metrics" }

// discoverServices lists, sorted, every services/<name> with a
// cmd/<name>/main.go that can run locally.
func discoverServices(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "services"))
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || notLocal[name] != "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "services", name, "cmd", name, "main.go")); err != nil {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// plan splits the discovered programs into domain services (each with its
// port) and the gateway (nil while there is none).
func plan(names []string, gatewayPort, firstPort int) (domain []service, gateway *service) {
	var unknown []string
	for _, n := range names {
		switch off, ok := portOffsets[n]; {
		case n == gatewayName:
			gateway = &service{Name: n, Port: gatewayPort}
		case ok:
			domain = append(domain, service{Name: n, Port: firstPort + off})
		default:
			unknown = append(unknown, n)
		}
	}
	for i, n := range unknown {
		domain = append(domain, service{Name: n, Port: firstPort + len(portOffsets) + i})
	}
	sort.Slice(domain, func(i, j int) bool { return domain[i].Name < domain[j].Name })
	return domain, gateway
}

// shared is what every service is told about the platform around it.
type shared struct {
	Brokers       []string
	PublicKeyFile string
	// SigninURL signs the tokens of the gateway's development sign-in page
	// (startSignin).
	SigninURL string
	// SessionKeys seal the web application's session cookies.
	SessionKeys string
	// Caller is the environment `make run` was started with.
	Caller []string
}

// domainEnv is the environment of a domain service: its listen address, its
// database as the app role (and as the owner, to migrate itself at start),
// Kafka, token verification, telemetry, and the other domain services' URLs
// as <NAME>_URL (sales asks contacts about contacts it has not heard of yet).
func domainEnv(s service, db pgcluster.Database, sh shared, peers []service) []string {
	env := baseEnv(s.Name, sh)
	for _, p := range peers {
		if p.Name != s.Name {
			env[httpkit.PeerVar(p.Name)] = p.URL()
		}
	}
	env["HTTP_ADDR"] = s.Addr()
	env["OPS_ADDR"] = s.OpsAddr()
	env["DATABASE_URL"] = db.AppURL
	env["MIGRATE_DATABASE_URL"] = db.OwnerURL
	env["DATABASE_APP_ROLE"] = db.AppRole
	return environ(env)
}

// gatewayEnv is the gateway's environment: its address and every domain
// service's URL as <NAME>_URL (CONTACTS_URL=http://127.0.0.1:8081).
func gatewayEnv(gw service, domain []service, sh shared) []string {
	env := baseEnv(gw.Name, sh)
	for k, v := range passThrough(sh.Caller, "GATEWAY_") {
		env[k] = v
	}
	env["GATEWAY_ADDR"] = gw.Addr()
	env["OPS_ADDR"] = gw.OpsAddr()
	// The web application signs people in through the development page:
	// tenant, role and user, no password (local mode only).
	env["WEB_PUBLIC_URL"] = gw.URL()
	env["WEB_DEV_SIGNIN_URL"] = sh.SigninURL
	env["WEB_SESSION_KEYS"] = sh.SessionKeys
	for _, s := range domain {
		env[httpkit.PeerVar(s.Name)] = s.URL()
	}
	return environ(env)
}

// inherited are the caller's variables every child keeps: the process basics,
// the Go runtime's knobs and the log level.
var inherited = []string{"PATH", "HOME", "USER", "TMPDIR", "TZ", "LANG", "LOG_LEVEL", "PROFILE_DIR",
	"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG", "GOCOVERDIR"}

func baseEnv(name string, sh shared) map[string]string {
	env := passThrough(sh.Caller, "OTEL_", "LC_")
	caller := passThrough(sh.Caller)
	for _, k := range inherited {
		if v, ok := caller[k]; ok {
			env[k] = v
		}
	}
	env["KAFKA_BROKERS"] = strings.Join(sh.Brokers, ",")
	env["AUTH_PUBLIC_KEY_FILE"] = sh.PublicKeyFile
	env["AUTH_ISSUER"] = auth.DevIssuerName
	env["AUTH_AUDIENCE"] = auth.DevAudience
	// The token command reads the same variable, so the tokens it prints
	// are ones the services accept.
	if v, ok := caller["AUTH_MAX_TOKEN_LIFETIME"]; ok {
		env["AUTH_MAX_TOKEN_LIFETIME"] = v
	}
	env["OTEL_SERVICE_NAME"] = name
	return env
}

// passThrough picks the caller's variables with one of prefixes (all of them
// when none is given).
func passThrough(caller []string, prefixes ...string) map[string]string {
	env := map[string]string{}
	for _, kv := range caller {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if len(prefixes) == 0 {
			env[k] = v
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				env[k] = v
			}
		}
	}
	return env
}

func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// startBuild runs buildServices in the background; wait returns its result.
func startBuild(ctx context.Context, root, binDir string, names []string, out *lineWriter) (wait func() error) {
	built := make(chan error, 1)
	go func() { built <- buildServices(ctx, root, binDir, names, out) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = <-built })
		return err
	}
}

// buildServices compiles every service into binDir in one `go build` from the
// repository root, so go.work applies and the packages build in parallel.
func buildServices(ctx context.Context, root, binDir string, names []string, out *lineWriter) error {
	if len(names) == 0 {
		return nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, statErr := os.Stat(goTool); statErr != nil {
			return errors.New("the go command is not on PATH: services cannot be built")
		}
	}
	args := []string{"build", "-o", binDir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+filepath.ToSlash(filepath.Join("services", n, "cmd", n)))
	}
	out.Printf("building %s into %s", strings.Join(names, ", "), binDir)
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = root
	// The workspace decides which pkg the services get, whatever GOWORK says.
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.Flush()
	if err != nil {
		return fmt.Errorf("go build of the services failed (%v):\n%s", err, indent(out.Tail()))
	}
	return nil
}
