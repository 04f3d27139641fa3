package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/services/sales/api"
	"github.com/rapportcrm/rapport/services/sales/internal/app"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// Every reply a test receives is checked against the service's OpenAPI document.
func TestMain(m *testing.M) {
	testenv.ValidateWith(api.OpenAPI)
	testenv.Main(m)
}

// harness runs the real service on a real database and broker, with two
// tenants: A works in Russian with RUB, B in English with USD.
type harness struct {
	t       testing.TB
	world   *testenv.World
	url     string
	issuer  *devauth.Issuer
	brokers []string
	appURL  string
	tenantA uuid.UUID
	tenantB uuid.UUID
	// contactsURL is the real contacts service's, when startWithContacts
	// runs one; services are those that acknowledge tenants.
	contactsURL string
	services    []string
	// asked counts the requests sales sent the contacts service, by method
	// and path ("GET /v1/contacts/<id>").
	asked *askedLog
}

// askedLog is what a proxy between sales and contacts saw pass.
type askedLog struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *askedLog) count(req string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[req]
}

func start(t testing.TB) *harness { return startWith(t, false) }

// startWithContacts runs the contacts service too, as its own program on
// its own database and the same broker, and sales asks it about contacts.
func startWithContacts(t testing.TB) *harness { return startWith(t, true) }

func startWith(t testing.TB, withContacts bool) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := testenv.NewWorld(t, service.Topic, service.ContactsTopic)
	brokers, issuer := w.Brokers, w.Issuer
	cfg := app.Config{Config: w.Config()}
	h := &harness{t: t, world: w, issuer: issuer, brokers: brokers, appURL: w.DB.AppURL, tenantA: uuid.New(), tenantB: uuid.New(), services: []string{app.Name}}
	if withContacts {
		h.contactsURL = runContacts(t, brokers, issuer)
		target, _ := url.Parse(h.contactsURL)
		h.asked = &askedLog{n: map[string]int{}}
		proxy := httputil.NewSingleHostReverseProxy(target)
		counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.asked.mu.Lock()
			h.asked.n[r.Method+" "+r.URL.Path]++
			h.asked.mu.Unlock()
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(counted.Close)
		cfg.ContactsURL, _ = url.Parse(counted.URL)
		h.services = append(h.services, "contacts")
	}
	h.url = runApp(t, ctx, cancel, cfg)
	for i, id := range []uuid.UUID{h.tenantA, h.tenantB} {
		h.publishTenant(id, 1, []string{"ru", "en"}[i], []string{"RUB", "USD"}[i])
	}
	return h
}

// publishTenant publishes a generation of a tenant's record and waits
// until the service has acknowledged it.
func (h *harness) publishTenant(id uuid.UUID, generation int64, locale, currency string) {
	h.t.Helper()
	h.world.Provision(&tenancyv1.TenantRecord{Id: id.String(), Name: "t-" + id.String()[:8], Generation: generation, Region: "local",
		Locale: locale, BaseCurrency: currency}, h.services...)
}

func runApp(t testing.TB, ctx context.Context, cancel context.CancelFunc, cfg app.Config) string {
	t.Helper()
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	url, _ := testenv.Serve(t, ctx, cancel, a.Run, a.Close)
	return url
}

// contactEvent publishes an event of the contacts service, as it would.
func (h *harness) contactEvent(tenant uuid.UUID, typ, subject string, msg proto.Message) {
	h.t.Helper()
	e, err := events.New(service.ContactsTopic, "/rapport/contacts", typ, tenant, subject, msg)
	if err != nil {
		h.t.Fatal(err)
	}
	w := events.NewWriter(h.brokers)
	defer w.Close()
	if err := events.Publish(context.Background(), w, e); err != nil {
		h.t.Fatal(err)
	}
}

// contact makes a contact known to sales, as the contacts service's
// confirmation of a contact a deal names would: a row of the projection.
// It is rep-user's, of team-1, so every user h.token makes sees it.
func (h *harness) contact(tenant uuid.UUID, first, last string) uuid.UUID {
	h.t.Helper()
	return h.contactOf(tenant, first+" "+last, "rep-user", "team-1")
}

// contactOf makes a projected contact of owner in team, shared with the
// users and teams given as "user:<id>" and "team:<name>".
func (h *harness) contactOf(tenant uuid.UUID, name, owner, team string, shares ...string) uuid.UUID {
	h.t.Helper()
	id, _ := uuid.NewV7()
	var users, teams []string
	for _, s := range shares {
		if u, ok := strings.CutPrefix(s, "user:"); ok {
			users = append(users, u)
		} else {
			teams = append(teams, strings.TrimPrefix(s, "team:"))
		}
	}
	testenv.ExecInTenant(h.t, h.appURL, tenant, `insert into contacts (tenant_id, id, name, version, owner_id, team, shared_users, shared_teams, visibility_known)
		values ($1, $2, $3, 1, $4, $5, coalesce($6, '{}'::text[]), coalesce($7, '{}'::text[]), true)`, tenant, id, name, owner, team, users, teams)
	return id
}

// company makes a company known to sales.
func (h *harness) company(tenant uuid.UUID, name string) uuid.UUID {
	h.t.Helper()
	id, _ := uuid.NewV7()
	testenv.ExecInTenant(h.t, h.appURL, tenant, `insert into companies (tenant_id, id, name, version) values ($1, $2, $3, 1)`, tenant, id, name)
	return id
}

// query runs a count in tenant's scope, as the service's role sees it.
func (h *harness) query(tenant uuid.UUID, sql string, args ...any) int {
	h.t.Helper()
	return testenv.CountInTenant(h.t, h.appURL, tenant, sql, args...)
}

// token is a token of a user named after role ("rep-user"), in team-1.
func (h *harness) token(tenant uuid.UUID, role string) string {
	return h.userToken(tenant, role+"-user", role, "team-1")
}

func (h *harness) userToken(tenant uuid.UUID, user, role, team string) string {
	tok, err := h.issuer.Token(auth.Principal{TenantID: tenant, UserID: user, Roles: []string{role}, Team: team}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// reply is an answer of the service.
type reply = testenv.Reply

func (h *harness) do(method, path, token string, body any, headers ...string) reply {
	h.t.Helper()
	return testenv.Call(h.t, method, h.url+path, token, body, headers...)
}

// countRows counts a tenant's rows of a table through RLS, as the service sees them.
func (h *harness) countRows(tenant uuid.UUID, table string) int {
	h.t.Helper()
	return h.query(tenant, "select count(*) from "+table)
}

// pipeline is the tenant's first pipeline (the seeded one) as JSON.
func (h *harness) pipeline(tok string) map[string]any {
	h.t.Helper()
	items := h.do("GET", "/v1/pipelines", tok, nil).Want(h.t, 200).Body["items"].([]any)
	if len(items) == 0 {
		h.t.Fatal("no pipeline")
	}
	return items[0].(map[string]any)
}

// stageIDs are a pipeline's stage ids in order.
func stageIDs(p map[string]any) []string {
	var out []string
	for _, s := range p["stages"].([]any) {
		out = append(out, s.(map[string]any)["id"].(string))
	}
	return out
}

func stageNames(p map[string]any) []string {
	var out []string
	for _, s := range p["stages"].([]any) {
		out = append(out, s.(map[string]any)["name"].(string))
	}
	return out
}
