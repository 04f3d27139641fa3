package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/gateway/internal/app"
	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
)

// metrics reads what the gateway counts; it is the process's meter provider.
var metrics = sdkmetric.NewManualReader()

func TestMain(m *testing.M) {
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics)))
	testenv.Main(m)
}

// received is one request as the upstream saw it.
type received struct {
	Method string
	Path   string
	Query  string
	Body   string
	Header http.Header
}

// upstream stands in for one service and records what reaches it.
type upstream struct {
	srv   *httptest.Server
	ready atomic.Int32
	// A request to a path ending in /slow signals arrived, then waits for release.
	arrived, release chan struct{}
	mu               sync.Mutex
	got              []received
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	u.ready.Store(http.StatusOK)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(int(u.ready.Load()))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/slow") {
			u.arrived <- struct{}{}
			<-u.release
		}
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, received{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		// Services echo the request id, as httpkit.RequestID does.
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"c-1"}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.got...)
}

// harness runs the real gateway against a real (in-process) Kafka broker and
// a recording upstream per service of the routing table, configured through
// the environment like production.
type harness struct {
	t   *testing.T
	url string
	// opsURL is the ops listener's base URL (OPS_ADDR).
	opsURL string
	issuer *devauth.Issuer
	// upstream is the contacts service; upstreams holds every service by name.
	upstream  *upstream
	upstreams map[string]*upstream
	gateway   *app.App
	prov      *tenancy.Provisioner
	// stop ends the gateway as SIGTERM does and returns what Run returned.
	stop func() error
}

type options struct {
	env     map[string]string
	urls    map[string]string // overrides recording upstreams by name, e.g. with a closed port
	brokers string            // overrides the Kafka broker
	// contacts, when set, starts a service in place of the recording contacts
	// upstream, given the broker and the dev issuer's public key, and
	// returns its base URL.
	contacts func(t *testing.T, brokers []string, jwtKey []byte) string
	// web, when set, adds variables that need the gateway's own URL (the
	// web sign-in's WEB_PUBLIC_URL and its provider).
	web func(t *testing.T, gatewayURL string) map[string]string
	// devSignIn offers the dev sign-in page (WEB_DEV_SIGNIN_URL), as make run does.
	devSignIn bool
}

func start(t *testing.T, opts options) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	brokers := testenv.Kafka(t, tenancy.TopicTenants)
	if opts.brokers != "" {
		brokers = []string{opts.brokers}
	}
	dir := t.TempDir()
	issuer, err := devauth.LoadOrCreate(filepath.Join(dir, "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "dev.pub.pem")
	if err := os.WriteFile(pub, issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"KAFKA_BROKERS":        strings.Join(brokers, ","),
		"AUTH_JWKS_URL":        "",
		"AUTH_PUBLIC_KEY_FILE": pub,
		"AUTH_ISSUER":          auth.DevIssuerName,
		"AUTH_AUDIENCE":        auth.DevAudience,
		"GATEWAY_DEFAULT_RPS":  "1000",
		"GATEWAY_BURST":        "",
		"GATEWAY_UNAUTH_RPS":   "",
		"GATEWAY_UNAUTH_BURST": "",
		// No web sign-in unless a test asks for one.
		"WEB_OIDC_ISSUER": "", "WEB_OIDC_CLIENT_ID": "", "WEB_OIDC_CLIENT_SECRET": "", "WEB_OIDC_SCOPES": "",
		"WEB_PUBLIC_URL": "", "WEB_SESSION_KEYS": "", "WEB_SESSION_TTL": "", "WEB_DEV_SIGNIN_URL": "",
		// Requests come from 127.0.0.1; tests that need other client
		// addresses trust it as a proxy and send X-Forwarded-For.
		"GATEWAY_TRUSTED_PROXIES": "",
		"OPS_ADDR":                fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1)),
	}
	ups := map[string]*upstream{}
	for _, name := range routing.Default.Upstreams() {
		ups[name] = newUpstream(t)
		env[httpkit.PeerVar(name)] = ups[name].srv.URL
		if u, ok := opts.urls[name]; ok {
			env[httpkit.PeerVar(name)] = u
		}
	}
	if opts.contacts != nil {
		env[httpkit.PeerVar("contacts")] = opts.contacts(t, brokers, issuer.PublicKeyPEM())
	}
	for k, v := range opts.env {
		env[k] = v
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.devSignIn {
		env["WEB_DEV_SIGNIN_URL"] = devSigner(t, issuer)
	}
	if opts.web != nil {
		for k, v := range opts.web(t, "http://"+l.Addr().String()) {
			env[k] = v
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	gw, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx, l) }()
	prov := tenancy.NewProvisioner(brokers, "/test")
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		_ = prov.Close()
	})
	return &harness{t: t, url: "http://" + l.Addr().String(), opsURL: "http://" + cfg.OpsAddr, issuer: issuer, upstream: ups["contacts"], upstreams: ups, gateway: gw, prov: prov, stop: stop}
}

// devSigner stands in for make run's token signer (deploy/local): POST
// {tenant_id, role, user, team, ttl_seconds} → {token}.
func devSigner(t *testing.T, issuer *devauth.Issuer) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			TenantID uuid.UUID `json:"tenant_id"`
			Role     string    `json:"role"`
			User     string    `json:"user"`
			Team     string    `json:"team"`
			TTL      int64     `json:"ttl_seconds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tok, err := issuer.Token(auth.Principal{TenantID: req.TenantID, UserID: req.User, Roles: []string{req.Role}, Team: req.Team}, time.Duration(req.TTL)*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token"
}

// publish puts a tenant record on crm.tenants.v1 and waits until the
// gateway's directory holds that generation.
func (h *harness) publish(rec *tenancyv1.TenantRecord) {
	h.t.Helper()
	if rec.Name == "" {
		rec.Name = "t-" + rec.Id[:8]
	}
	if err := h.prov.Publish(context.Background(), rec); err != nil {
		h.t.Fatal(err)
	}
	id := uuid.MustParse(rec.Id)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if t, ok := h.gateway.Directory().Lookup(id); ok && t.Generation >= rec.Generation {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("tenant %s generation %d never reached the gateway's directory", rec.Id, rec.Generation)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tenant provisions an active tenant and returns its id.
func (h *harness) tenant(quotaRPS int64) uuid.UUID {
	id := uuid.New()
	h.publish(&tenancyv1.TenantRecord{Id: id.String(), Generation: 1, Quotas: &tenancyv1.Quotas{RequestsPerSecond: quotaRPS}})
	return id
}

func (h *harness) token(tenant uuid.UUID, ttl time.Duration) string {
	h.t.Helper()
	tok, err := h.issuer.Token(auth.Principal{TenantID: tenant, UserID: "u-1", Roles: []string{"rep"}, Team: "team-1"}, ttl)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

type reply struct {
	status  int
	header  http.Header
	body    []byte
	problem struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
}

// slug is the problem type's last path segment.
func (r reply) slug() string {
	return r.problem.Type[strings.LastIndex(r.problem.Type, "/")+1:]
}

func (h *harness) do(method, path, bearer string, body string, header http.Header) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return roundTrip(h.t, http.DefaultClient, req)
}

// roundTrip sends req with c and reads the reply, its problem decoded.
func roundTrip(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	r.body, _ = io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(&r.problem); err != nil {
			t.Fatalf("%s %s: bad problem body %q: %v", req.Method, req.URL, r.body, err)
		}
	}
	return r
}

// wantProblem checks a problem+json answer's status and slug.
func wantProblem(t *testing.T, have reply, status int, slug string) {
	t.Helper()
	if have.status != status {
		t.Fatalf("status: want %d, have %d (%s)", status, have.status, have.body)
	}
	if ct := have.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type: want application/problem+json, have %q (%s)", ct, have.body)
	}
	if slug != "" && have.slug() != slug {
		t.Fatalf("problem slug: want %q, have %q (%s)", slug, have.slug(), have.body)
	}
}
