package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/contacts/api"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Every reply a test receives is checked against the service's OpenAPI document.
func TestMain(m *testing.M) {
	testenv.ValidateWith(api.OpenAPI)
	testenv.Main(m)
}

// harness runs the real service on a real database and broker.
type harness struct {
	t       testing.TB
	url     string
	issuer  *devauth.Issuer
	brokers []string
	appURL  string
	tenantA uuid.UUID
	tenantB uuid.UUID
	cfg     app.Config
	// stop stops the service (as a crash would stop its work), once.
	stop func()
}

func start(t testing.TB) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := testenv.NewWorld(t, append([]string{service.Topic}, service.TimelineTopics...)...)
	// Sales is asked about the deals activities name; a test that names
	// one starts it at this address (startSales).
	sales, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePorts(t, 1)))
	cfg := app.Config{Config: w.Config(), SalesURL: sales}
	h := &harness{t: t, issuer: w.Issuer, brokers: w.Brokers, appURL: w.DB.AppURL, tenantA: uuid.New(), tenantB: uuid.New(), cfg: cfg}
	h.url, h.stop = runApp(t, ctx, cancel, cfg)
	for i, id := range []uuid.UUID{h.tenantA, h.tenantB} {
		w.Provision(&tenancyv1.TenantRecord{Id: id.String(), Name: fmt.Sprintf("t%d", i), Generation: 1, Region: "local",
			DefaultCountry: []string{"RU", "US"}[i]}, app.Name)
	}
	return h
}

func (h *harness) token(tenant uuid.UUID, role string) string {
	tok, err := h.issuer.Token(auth.Principal{TenantID: tenant, UserID: role + "-user", Roles: []string{role}, Team: "team-1"}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) do(method, path, token string, body any, headers ...string) testenv.Reply {
	h.t.Helper()
	return testenv.Call(h.t, method, h.url+path, token, body, headers...)
}

// countRows counts a tenant's rows of a table through RLS, as the service sees them.
func (h *harness) countRows(tenant uuid.UUID, table string) int {
	h.t.Helper()
	return testenv.CountInTenant(h.t, h.appURL, tenant, "select count(*) from "+table)
}

// runApp starts the service on cfg; stop (also run at cleanup) ends it.
func runApp(t testing.TB, ctx context.Context, cancel context.CancelFunc, cfg app.Config) (url string, stop func()) {
	t.Helper()
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Serve(t, ctx, cancel, a.Run, a.Close)
}

// restart stops the service and starts another on the same database and
// broker, as a restarted deployment would.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	ctx, cancel := context.WithCancel(context.Background())
	h.url, h.stop = runApp(h.t, ctx, cancel, h.cfg)
}

var anna = map[string]any{"first_name": "Анна", "last_name": "Иванова", "emails": []string{"anna@example.ru"},
	"phones": []string{"+7 912 000-00-00"}, "tags": []string{"vip"}}

func TestCreateGetAndEvent(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	r := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated)
	id := r.Body["id"].(string)
	if r.Header.Get("Location") != "/v1/contacts/"+id || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("have Location %q ETag %q", r.Header.Get("Location"), r.Header.Get("ETag"))
	}
	if u := uuid.MustParse(id); u.Version() != 7 {
		t.Fatalf("id %s is not a UUIDv7", id)
	}
	if r.Body["owner_id"] != "rep-user" || r.Body["version"].(float64) != 1 || r.Body["created_at"] == nil {
		t.Fatalf("owner defaults to the creator; have %s", r.Raw)
	}
	g := h.do("GET", "/v1/contacts/"+id, tok, nil).Want(t, http.StatusOK)
	if g.Body["first_name"] != "Анна" || g.Header.Get("ETag") != `"1"` {
		t.Fatalf("have %s", g.Raw)
	}
	if g.Body["created_at"] != r.Body["created_at"] || g.Body["updated_at"] != r.Body["updated_at"] {
		t.Fatalf("the write answered %v, the read %v", r.Body["created_at"], g.Body["created_at"])
	}
	// The change reached Kafka through the outbox.
	ev := readEvent(t, h.brokers, id)
	if ev.Type != "crm.contact.created" || ev.TenantID != h.tenantA {
		t.Fatalf("have event %s for %s", ev.Type, ev.TenantID)
	}
	var msg contactsv1.ContactCreated
	if err := ev.Unmarshal(&msg); err != nil || msg.GetContact().GetEmails()[0] != "anna@example.ru" || msg.GetActorId() != "rep-user" {
		t.Fatalf("have %v %v", &msg, err)
	}
}

// readEvent returns the first event about subject on the contacts topic.
func readEvent(t *testing.T, brokers []string, subject string) events.Event {
	t.Helper()
	return readEventOfType(t, brokers, subject, "")
}

// readEventOfType returns the first event of type typ (any, when "") about
// subject on the contacts topic.
func readEventOfType(t *testing.T, brokers []string, subject, typ string) events.Event {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "test-" + uuid.NewString(), Topic: "crm.contacts.events.v1",
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("no %s event for %s: %v", typ, subject, err)
		}
		ev, err := events.FromMessage(m)
		if err == nil && ev.Subject == subject && (typ == "" || ev.Type == typ) {
			return ev
		}
	}
}

func TestBadInputOnCreate(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	for name, tc := range map[string]struct {
		Body   any
		Status int
		fields []string
	}{
		"malformed json":  {`{"first_name": `, http.StatusBadRequest, nil},
		"unknown field":   {`{"first_name": "A", "nickname": "x"}`, http.StatusBadRequest, nil},
		"wrong type":      {`{"first_name": 5}`, http.StatusUnprocessableEntity, []string{"first_name"}},
		"invalid values":  {map[string]any{"first_name": "A", "emails": []string{"x"}, "phones": []string{"abc"}}, http.StatusUnprocessableEntity, []string{"emails/0", "phones/0"}},
		"nothing to name": {map[string]any{"tags": []string{"a"}}, http.StatusUnprocessableEntity, []string{"first_name"}},
		"too large":       {`{"first_name": "` + strings.Repeat("a", 2<<20) + `"}`, http.StatusRequestEntityTooLarge, nil},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("POST", "/v1/contacts", tok, tc.Body).Want(t, tc.Status)
			if fmt.Sprint(r.FieldPaths()) != fmt.Sprint(tc.fields) && tc.fields != nil {
				t.Fatalf("have fields %v, want %v", r.FieldPaths(), tc.fields)
			}
		})
	}
	// Nothing half-written: no contact and no event stayed behind.
	if n := h.countRows(h.tenantA, "contacts"); n != 0 {
		t.Fatalf("%d contacts after refused requests", n)
	}
	if n := h.countRows(h.tenantA, "outbox"); n != 0 {
		t.Fatalf("%d outbox rows after refused requests", n)
	}
}

func TestAuthentication(t *testing.T) {
	h := start(t)
	h.do("GET", "/v1/contacts", "", nil).Want(t, http.StatusUnauthorized)
	h.do("GET", "/v1/contacts", "garbage", nil).Want(t, http.StatusUnauthorized)
	other, _ := devauth.LoadOrCreate(filepath.Join(t.TempDir(), "other.pem"))
	forged, _ := other.Token(auth.Principal{TenantID: h.tenantA, UserID: "x", Roles: []string{"admin"}}, time.Hour)
	h.do("GET", "/v1/contacts", forged, nil).Want(t, http.StatusUnauthorized)
	// A verified token of a tenant this service was never told about.
	r := h.do("GET", "/v1/contacts", h.token(uuid.New(), auth.RoleAdmin), nil).Want(t, http.StatusForbidden)
	if !strings.HasSuffix(r.Body["type"].(string), "tenant-unknown") {
		t.Fatalf("have %s", r.Raw)
	}
	// Viewers read but do not write.
	h.do("POST", "/v1/contacts", h.token(h.tenantA, auth.RoleViewer), anna).Want(t, http.StatusForbidden)
	h.do("GET", "/v1/contacts", h.token(h.tenantA, auth.RoleViewer), nil).Want(t, http.StatusOK)
}

func TestUpdateWithIfMatch(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	id := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	path := "/v1/contacts/" + id
	r := h.do("PATCH", path, tok, map[string]any{"last_name": "Петрова", "tags": []string{"vip", "moscow"}}, "If-Match", `"1"`).Want(t, http.StatusOK)
	if r.Body["last_name"] != "Петрова" || r.Body["first_name"] != "Анна" || r.Body["version"].(float64) != 2 || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("have %s", r.Raw)
	}
	// Stale If-Match is refused and changes nothing.
	h.do("PATCH", path, tok, map[string]any{"last_name": "X"}, "If-Match", `"1"`).Want(t, http.StatusPreconditionFailed)
	h.do("PATCH", path, tok, map[string]any{"emails": []string{"bad"}}).Want(t, http.StatusUnprocessableEntity)
	h.do("PATCH", path, tok, `{"nick": 1}`).Want(t, http.StatusBadRequest)
	h.do("PATCH", path, tok, `{`).Want(t, http.StatusBadRequest)
	g := h.do("GET", path, tok, nil).Want(t, http.StatusOK)
	if g.Body["last_name"] != "Петрова" || g.Body["version"].(float64) != 2 {
		t.Fatalf("refused patches changed the contact: %s", g.Raw)
	}
	// Cross-tenant: tenant B cannot see or change tenant A's contact.
	tokB := h.token(h.tenantB, auth.RoleAdmin)
	h.do("GET", path, tokB, nil).Want(t, http.StatusNotFound)
	h.do("PATCH", path, tokB, map[string]any{"last_name": "X"}).Want(t, http.StatusNotFound)
	h.do("DELETE", path, tokB, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/contacts/not-a-uuid", tok, nil).Want(t, http.StatusNotFound)
	h.do("GET", "/v1/contacts/"+uuid.NewString(), tok, nil).Want(t, http.StatusNotFound)
}

func TestDelete(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	id := h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated).Body["id"].(string)
	path := "/v1/contacts/" + id
	if k, tl := h.countRows(h.tenantA, "contact_keys"), h.countRows(h.tenantA, "timeline"); k != 2 || tl != 1 {
		t.Fatalf("before delete: %d channel keys, %d timeline entries", k, tl)
	}
	h.do("DELETE", path, tok, nil, "If-Match", `"7"`).Want(t, http.StatusPreconditionFailed)
	h.do("DELETE", path, tok, nil, "If-Match", `"1"`).Want(t, http.StatusNoContent)
	h.do("GET", path, tok, nil).Want(t, http.StatusNotFound)
	h.do("DELETE", path, tok, nil).Want(t, http.StatusNotFound)
	// The channel keys and the timeline go with the contact: the same
	// person is no duplicate of a deleted one.
	if k, tl := h.countRows(h.tenantA, "contact_keys"), h.countRows(h.tenantA, "timeline"); k != 0 || tl != 0 {
		t.Fatalf("after delete: %d channel keys, %d timeline entries left", k, tl)
	}
	h.do("POST", "/v1/contacts", tok, anna).Want(t, http.StatusCreated)
	if ev := readEvent(t, h.brokers, id); ev.Type != "crm.contact.created" {
		t.Fatalf("first event is %s", ev.Type)
	}
}

func TestListPagesAndIsolation(t *testing.T) {
	h := start(t)
	tokA, tokB := h.token(h.tenantA, auth.RoleAdmin), h.token(h.tenantB, auth.RoleAdmin)
	var want []string
	for i := range 5 {
		r := h.do("POST", "/v1/contacts", tokA, map[string]any{"first_name": fmt.Sprintf("A%d", i)}).Want(t, http.StatusCreated)
		want = append(want, r.Body["id"].(string))
	}
	h.do("POST", "/v1/contacts", tokB, map[string]any{"first_name": "B"}).Want(t, http.StatusCreated)
	var have []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := h.do("GET", "/v1/contacts?limit=2&cursor="+cursor, tokA, nil).Want(t, http.StatusOK)
		for _, it := range r.Body["items"].([]any) {
			have = append(have, it.(map[string]any)["id"].(string))
		}
		next, _ := r.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Fatalf("have %v, want %v", have, want)
	}
	r := h.do("GET", "/v1/contacts", tokB, nil).Want(t, http.StatusOK)
	if items := r.Body["items"].([]any); len(items) != 1 {
		t.Fatalf("tenant B sees %d contacts", len(items))
	}
	h.do("GET", "/v1/contacts?limit=abc", tokA, nil).Want(t, http.StatusUnprocessableEntity)
	h.do("GET", "/v1/contacts?cursor=!!!", tokA, nil).Want(t, http.StatusUnprocessableEntity)
}

func TestIdempotencyKeyReplaysCreate(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	first := h.do("POST", "/v1/contacts", tok, anna, "Idempotency-Key", "k-1").Want(t, http.StatusCreated)
	again := h.do("POST", "/v1/contacts", tok, anna, "Idempotency-Key", "k-1").Want(t, http.StatusCreated)
	if first.Body["id"] != again.Body["id"] {
		t.Fatalf("replay created another contact: %v vs %v", first.Body["id"], again.Body["id"])
	}
	h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Other"}, "Idempotency-Key", "k-1").Want(t, http.StatusUnprocessableEntity)
	// Tenant B's identical key is its own.
	b := h.do("POST", "/v1/contacts", h.token(h.tenantB, auth.RoleRep), anna, "Idempotency-Key", "k-1").Want(t, http.StatusCreated)
	if b.Body["id"] == first.Body["id"] {
		t.Fatal("tenant B was replayed tenant A's response")
	}
	if n := h.countRows(h.tenantA, "contacts"); n != 1 {
		t.Fatalf("have %d contacts, want 1", n)
	}
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	h := start(t)
	r := h.do("GET", "/v1/contacts/openapi.json", "", nil).Want(t, http.StatusOK)
	paths, _ := r.Body["paths"].(map[string]any)
	if r.Body["openapi"] != "3.1.0" || paths["/v1/contacts"] == nil || paths["/v1/contacts/{id}"] == nil {
		t.Fatalf("have %s", r.Raw)
	}
}

// A path the service does not serve, or a method a path does not take, is a
// problem like every other error.
func TestUnknownRoutesAnswerProblems(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleAdmin)
	h.do("GET", "/v1/contacts/"+uuid.NewString()+"/nothing", tok, nil).Want(t, http.StatusNotFound)
	r := h.do("PUT", "/v1/contacts/"+uuid.NewString(), tok, anna).Want(t, http.StatusMethodNotAllowed)
	if !strings.Contains(r.Header.Get("Allow"), "PATCH") {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}
	h.do("GET", "/nothing", "", nil).Want(t, http.StatusNotFound)
}

// TestPurge deletes tenant B with deletionPolicy Delete: every row the
// service holds for B goes, derived tables included, and A keeps its own.
func TestPurge(t *testing.T) {
	h := start(t)
	tables := []string{"contacts", "contact_keys", "timeline", "activities", "companies", "merges", "contact_counts",
		"contact_counted_tenants"}
	for _, tenant := range []uuid.UUID{h.tenantA, h.tenantB} {
		// With a quota, so that its contacts are counted.
		h.setQuota(tenant, 2, 100)
		tok := h.token(tenant, auth.RoleAdmin)
		company := h.do("POST", "/v1/companies", tok, map[string]any{"name": "ООО Ромашка"}).Want(t, http.StatusCreated).Body["id"]
		contact := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна", "emails": []string{"anna@example.ru"},
			"company_id": company}).Want(t, http.StatusCreated).Body["id"]
		h.do("POST", "/v1/activities", tok, map[string]any{"kind": "note", "body": "Позвонить", "contact_id": contact}).Want(t, http.StatusCreated)
		dup := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Аня"}).Want(t, http.StatusCreated).Body["id"]
		h.do("POST", fmt.Sprintf("/v1/contacts/%s/merge", contact), tok, map[string]any{"from": []any{dup}}).Want(t, http.StatusOK)
		for _, table := range tables {
			if n := h.countRows(tenant, table); n == 0 {
				t.Fatalf("setup: no %s rows", table)
			}
		}
	}
	prov := tenancy.NewProvisioner(h.brokers, "/test")
	defer prov.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &tenancyv1.TenantRecord{Id: h.tenantB.String(), Name: "t1", Generation: 3, Region: "local", DefaultCountry: "US",
		Deleting: true, DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE}
	if err := prov.Publish(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, h.tenantB.String(), 3, []string{app.Name}); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if n := h.countRows(h.tenantB, table); n != 0 {
			t.Errorf("purged tenant still has %d %s rows", n, table)
		}
		if n := h.countRows(h.tenantA, table); n == 0 {
			t.Errorf("the other tenant lost its %s rows", table)
		}
	}
}
