package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/app"
	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const region = "ru-central-1"

// rig is a real kube-apiserver and etcd, the kfake broker, PostgreSQL, the
// real contacts service as its own process, and the operator's manager.
type rig struct {
	t        testing.TB
	k8s      client.Client
	rc       *rest.Config
	brokers  []string
	db       pgcluster.Database
	issuer   *devauth.Issuer
	contacts *process
	gateway  *process
	metrics  string
	health   string
	services []string
	// stopFirst stops the replica newRig started.
	stopFirst func()
}

// startOperator runs one operator replica (leader election on, as in
// production) until stop or the test's end.
func (r *rig) startOperator(metrics, health string) (stop func()) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{Region: region, Brokers: r.brokers, Services: r.services, NamespacePrefix: "tenant-",
		MetricsAddr: metrics, HealthAddr: health, LeaderElect: true, LeaderElectionNamespace: "default", Workers: 8,
		SkipNameValidation: true}, r.rc, testLogger())
	if err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			r.t.Errorf("operator: %v\n%s", err, stacks.String())
		}
	})
	r.t.Cleanup(stop)
	return stop
}

func newRig(t testing.TB, services ...string) *rig {
	t.Helper()
	rc, k8s := envtestkit.Start(t)
	r := &rig{t: t, k8s: k8s, rc: rc, db: testenv.NewDatabase(t),
		brokers: testenv.Kafka(t, tenancy.TopicTenants, tenancy.TopicAcks, "crm.contacts.events.v1")}
	keyPath := filepath.Join(t.TempDir(), "dev.pem")
	issuer, err := devauth.LoadOrCreate(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	r.issuer = issuer
	pub := filepath.Join(t.TempDir(), "dev.pub.pem")
	if err := os.WriteFile(pub, issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePorts(t, 4)
	r.contacts = &process{t: t, bin: testenv.BuildProgram(t, "contacts"), ready: "/readyz", url: fmt.Sprintf("http://127.0.0.1:%d", port), env: []string{
		"DATABASE_URL=" + r.db.AppURL, "MIGRATE_DATABASE_URL=" + r.db.OwnerURL, "DATABASE_APP_ROLE=" + r.db.AppRole,
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), "KAFKA_BROKERS=" + strings.Join(r.brokers, ","),
		"AUTH_PUBLIC_KEY_FILE=" + pub, "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none",
		// Sales is not run: contacts would ask it only about a deal an
		// activity names, which these tests never log.
		"SALES_URL=http://127.0.0.1:9",
	}}
	// The gateway in front of contacts (sales is not run: the gateway's
	// readiness would wait for it, so the tests wait for /healthz).
	// Every other service the catalogue names points at a closed port.
	gatewayEnv := []string{
		fmt.Sprintf("GATEWAY_ADDR=127.0.0.1:%d", port+3),
		"KAFKA_BROKERS=" + strings.Join(r.brokers, ","), "AUTH_PUBLIC_KEY_FILE=" + pub,
		"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none",
	}
	for _, name := range catalog.Names() {
		peer := "http://127.0.0.1:9"
		if name == "contacts" {
			peer = r.contacts.url
		}
		gatewayEnv = append(gatewayEnv, httpkit.PeerVar(name)+"="+peer)
	}
	r.gateway = &process{t: t, bin: testenv.BuildProgram(t, "gateway"), ready: "/healthz", url: fmt.Sprintf("http://127.0.0.1:%d", port+3), env: gatewayEnv}
	r.metrics = fmt.Sprintf("127.0.0.1:%d", port+1)
	r.health = fmt.Sprintf("127.0.0.1:%d", port+2)
	if len(services) == 0 {
		services = []string{"contacts"}
	}
	r.services = services
	r.stopFirst = r.startOperator(r.metrics, r.health)
	return r
}

// testLogger discards the operator's logs unless OPERATOR_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("OPERATOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// process is a service running as its own program, started when a test
// wants it, stoppable and restartable.
type process struct {
	t     testing.TB
	bin   string
	url   string
	ready string // the path that answers 200 once it serves
	env   []string
	prog  *testenv.Program
}

// Start runs the service and waits until it answers its ready path.
func (p *process) Start() {
	p.t.Helper()
	if p.prog == nil {
		p.prog = testenv.StartProgram(p.t, p.bin, p.env, p.url+p.ready)
		return
	}
	p.prog.Restart()
}

// Stop ends the service as SIGTERM does; a stopped one stays stopped.
func (p *process) Stop() {
	if p.prog != nil {
		p.prog.Stop()
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not so after %s: %s", timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *rig) create(t *crmv1alpha1.Tenant) *crmv1alpha1.Tenant {
	r.t.Helper()
	if t.Spec.Region == "" {
		t.Spec.Region = region
	}
	if err := r.k8s.Create(context.Background(), t); err != nil {
		r.t.Fatal(err)
	}
	return t
}

func (r *rig) get(name string) (*crmv1alpha1.Tenant, error) {
	var t crmv1alpha1.Tenant
	err := r.k8s.Get(context.Background(), types.NamespacedName{Name: name}, &t)
	return &t, err
}

// waitCondition waits until the tenant's condition has status and reason
// for its current generation, and returns the tenant.
func (r *rig) waitCondition(name, typ string, status metav1.ConditionStatus, reason string) *crmv1alpha1.Tenant {
	r.t.Helper()
	var t *crmv1alpha1.Tenant
	eventually(r.t, 30*time.Second, func() (bool, string) {
		var err error
		if t, err = r.get(name); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(t.Status.Conditions, typ)
		if c == nil || c.ObservedGeneration != t.Generation {
			return false, fmt.Sprintf("%s: %+v", typ, t.Status)
		}
		return c.Status == status && c.Reason == reason, fmt.Sprintf("%s is %s/%s: %s", typ, c.Status, c.Reason, c.Message)
	})
	return t
}

func (r *rig) waitReady(name string) *crmv1alpha1.Tenant {
	r.t.Helper()
	return r.waitCondition(name, "Ready", metav1.ConditionTrue, "Ready")
}

// update changes a tenant's spec, retrying on conflicts.
func (r *rig) update(name string, change func(*crmv1alpha1.Tenant)) {
	r.t.Helper()
	for {
		t, err := r.get(name)
		if err != nil {
			r.t.Fatal(err)
		}
		change(t)
		err = r.k8s.Update(context.Background(), t)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "modified") {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) token(tenant types.UID, role string) string {
	r.t.Helper()
	tok, err := r.issuer.Token(auth.Principal{TenantID: uuid.MustParse(string(tenant)), UserID: role + "-user", Roles: []string{role}}, time.Hour)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

func (r *rig) call(method, path, token string, body any, headers ...string) testenv.Reply {
	r.t.Helper()
	return testenv.Call(r.t, method, r.contacts.url+path, token, body, headers...)
}

func (r *rig) viaGateway(method, path, token string, body any, headers ...string) testenv.Reply {
	r.t.Helper()
	return testenv.Call(r.t, method, r.gateway.url+path, token, body, headers...)
}

// records are the tenant records on crm.tenants.v1 (nil for a tombstone), in order per tenant.
func (r *rig) records() map[string][]*tenancyv1.TenantRecord {
	r.t.Helper()
	out := map[string][]*tenancyv1.TenantRecord{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := tenancy.Watch(ctx, r.brokers, tenancy.TopicTenants, func(m kafka.Message) {
		ev, err := events.FromMessage(m)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ev.Type == tenancy.TypeTombstone {
			out[ev.TenantID.String()] = append(out[ev.TenantID.String()], nil)
			return
		}
		rec := &tenancyv1.TenantRecord{}
		if ev.Unmarshal(rec) == nil {
			out[rec.GetId()] = append(out[rec.GetId()], rec)
		}
	}); err != nil {
		r.t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return out
}

// direct is a client without a cache: it reads what the API server holds.
func (r *rig) direct() client.Client { return r.k8s }

func (r *rig) count(tenant types.UID, sql string) int {
	r.t.Helper()
	return testenv.CountInTenant(r.t, r.db.AppURL, uuid.MustParse(string(tenant)), sql)
}
