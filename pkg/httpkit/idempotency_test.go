package httpkit_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

const tenantHeader = "X-Test-Tenant"

const userHeader = "X-Test-User"

// tenantOf stands in for auth.PrincipalFrom: tests name the tenant and the
// caller in headers.
func tenantOf(r *http.Request) (uuid.UUID, string, bool) {
	id, err := uuid.Parse(r.Header.Get(tenantHeader))
	return id, r.Header.Get(userHeader), err == nil
}

// thingsAPI creates numbered things; status decides its answers when set.
type thingsAPI struct {
	calls  atomic.Int64
	status func(call int64) int
	block  chan struct{} // when set, the handler waits on it
	inside chan struct{} // signalled when a handler starts waiting
}

func (a *thingsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.calls.Add(1)
	if a.block != nil {
		a.inside <- struct{}{}
		<-a.block
	}
	status := http.StatusCreated
	if a.status != nil {
		status = a.status(n)
	}
	var body struct{ Name string }
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		httpkit.EncodeError(r.Context(), err, w)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/things/%d", n))
	w.Header().Set("ETag", httpkit.ETag(n))
	w.Header().Set("X-Not-Replayed", "x")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":%d,"name":%q}`, n, body.Name)
}

type idemEnv struct {
	owner, app *pgxpool.Pool
	store      httpkit.IdempotencyStore
	srv        *httptest.Server
}

func newIdemEnv(t *testing.T, api http.Handler) idemEnv {
	t.Helper()
	return newIdemEnvWith(t, api, httpkit.DefaultIdempotencyLease, func(s httpkit.IdempotencyStore) httpkit.IdempotencyStore { return s })
}

// newIdemEnvWith serves api behind the middleware over a store with lease,
// which wrap may change; api may use env.app, set before it is served.
func newIdemEnvWith(t *testing.T, api http.Handler, lease time.Duration, wrap func(httpkit.IdempotencyStore) httpkit.IdempotencyStore) idemEnv {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform()); err != nil {
		t.Fatal(err)
	}
	app, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	owner, err := postgres.Open(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	store := wrap(httpkit.NewPostgresIdempotencyStore(app).WithLease(lease))
	h := httpkit.BodyLimit(256)(httpkit.Idempotency(store, tenantOf)(api))
	if e, ok := api.(*effectAPI); ok {
		e.pool = app
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return idemEnv{owner: owner, app: app, store: store, srv: srv}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e idemEnv) post(t *testing.T, method string, tenant uuid.UUID, key, body string) answer {
	t.Helper()
	return e.postAs(t, method, tenant, "user-1", key, body)
}

func (e idemEnv) postAs(t *testing.T, method string, tenant uuid.UUID, user, key, body string) answer {
	t.Helper()
	return e.request(t, method, tenant, user, key, body, "Content-Type", "application/json")
}

// request sends body to /v1/things as user of tenant with key (none when
// empty) and headers given as name, value pairs (an empty value is left out).
func (e idemEnv) request(t *testing.T, method string, tenant uuid.UUID, user, key, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/v1/things", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	req.Header.Set(tenantHeader, tenant.String())
	req.Header.Set(userHeader, user)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(got)}
}

func wantSlug(t *testing.T, a answer, status int, slug string) {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(a.body, `"type":"https://rapport.dev/problems/`+slug+`"`) {
		t.Fatalf("want %d %s, have %d %s", status, slug, a.status, a.body)
	}
}

func TestIdempotencyReplaysTheFirstResponse(t *testing.T) {
	api := &thingsAPI{}
	env := newIdemEnv(t, api)
	tenant := uuid.New()
	first := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	again := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	if first.status != 201 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v", first.status, first.header)
	}
	if api.calls.Load() != 1 {
		t.Fatalf("the handler ran %d times, want once", api.calls.Load())
	}
	for _, h := range []string{"Location", "ETag", "Content-Type"} {
		if again.header.Get(h) != first.header.Get(h) {
			t.Errorf("%s: want %q, have %q", h, first.header.Get(h), again.header.Get(h))
		}
	}
	if again.status != first.status || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: want %d %s, have %d %s %v", first.status, first.body, again.status, again.body, again.header)
	}
	if again.header.Get("X-Not-Replayed") != "" {
		t.Errorf("replayed a header outside the list")
	}
}

func TestIdempotencyKeyUse(t *testing.T) {
	api := &thingsAPI{}
	env := newIdemEnv(t, api)
	a, b := uuid.New(), uuid.New()
	for _, tc := range []struct {
		name      string
		method    string
		tenant    uuid.UUID
		key, body string
		wantCalls int64 // handler runs after this request
		want      func(t *testing.T, have answer)
	}{
		{"first use", http.MethodPost, a, "k-1", `{"name":"Ada"}`, 1, func(t *testing.T, have answer) {
			if have.status != 201 {
				t.Fatalf("have %d %s", have.status, have.body)
			}
		}},
		{"same key, other body", http.MethodPost, a, "k-1", `{"name":"Bob"}`, 1, func(t *testing.T, have answer) {
			wantSlug(t, have, 422, "idempotency-key-reuse")
		}},
		{"same key and body, other tenant", http.MethodPost, b, "k-1", `{"name":"Ada"}`, 2, func(t *testing.T, have answer) {
			if have.status != 201 || have.header.Get("Idempotent-Replayed") != "" || !strings.Contains(have.body, `"id":2`) {
				t.Fatalf("tenant B was replayed tenant A's answer or failed: %d %s %v", have.status, have.body, have.header)
			}
		}},
		{"tenant B replays its own", http.MethodPost, b, "k-1", `{"name":"Ada"}`, 2, func(t *testing.T, have answer) {
			if have.header.Get("Idempotent-Replayed") != "true" || !strings.Contains(have.body, `"id":2`) {
				t.Fatalf("have %d %s %v", have.status, have.body, have.header)
			}
		}},
		{"no key", http.MethodPost, a, "", `{"name":"Ada"}`, 3, nil},
		{"not a POST", http.MethodPut, a, "k-1", `{"name":"Ada"}`, 4, func(t *testing.T, have answer) {
			if have.header.Get("Idempotent-Replayed") != "" {
				t.Fatal("a PUT was replayed")
			}
		}},
		{"invalid key", http.MethodPost, a, strings.Repeat("k", 256), `{"name":"Ada"}`, 4, func(t *testing.T, have answer) {
			wantSlug(t, have, 400, "idempotency-key-invalid")
		}},
		{"body over the limit", http.MethodPost, a, "k-2", `{"name":"` + strings.Repeat("a", 300) + `"}`, 4, func(t *testing.T, have answer) {
			wantSlug(t, have, 413, "too-large")
		}},
		{"a 4xx answer is stored", http.MethodPost, a, "k-3", `{"nme":"typo"}`, 5, func(t *testing.T, have answer) {
			wantSlug(t, have, 400, "unknown-field")
		}},
		{"and replayed", http.MethodPost, a, "k-3", `{"nme":"typo"}`, 5, func(t *testing.T, have answer) {
			if have.status != 400 || have.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("have %d %v", have.status, have.header)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have := env.post(t, tc.method, tc.tenant, tc.key, tc.body)
			if tc.want != nil {
				tc.want(t, have)
			}
			if n := api.calls.Load(); n != tc.wantCalls {
				t.Fatalf("handler runs: want %d, have %d", tc.wantCalls, n)
			}
		})
	}
}

func TestIdempotencyDoesNotStore5xx(t *testing.T) {
	api := &thingsAPI{status: func(call int64) int {
		if call == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusCreated
	}}
	env := newIdemEnv(t, api)
	tenant := uuid.New()
	for i, want := range []struct {
		status   int
		replayed string
	}{{503, ""}, {201, ""}, {201, "true"}} {
		have := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
		if have.status != want.status || have.header.Get("Idempotent-Replayed") != want.replayed {
			t.Fatalf("attempt %d: want %d replayed=%q, have %d replayed=%q", i+1, want.status, want.replayed,
				have.status, have.header.Get("Idempotent-Replayed"))
		}
	}
	if api.calls.Load() != 2 {
		t.Fatalf("handler runs: want 2, have %d", api.calls.Load())
	}
}

func TestIdempotencyKeyInFlight(t *testing.T) {
	api := &thingsAPI{block: make(chan struct{}), inside: make(chan struct{}, 1)}
	env := newIdemEnv(t, api)
	tenant := uuid.New()
	var wg sync.WaitGroup
	var first answer
	finished := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(finished)
		first = env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	}()
	select {
	case <-api.inside:
	case <-finished:
		t.Fatalf("the first request never reached the handler: %d %s", first.status, first.body)
	}
	have := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	wantSlug(t, have, 409, "idempotency-key-in-flight")
	if have.header.Get("Retry-After") == "" {
		t.Error("in-flight answer without Retry-After")
	}
	close(api.block)
	wg.Wait()
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	if again := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`); again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after completion: %d %s", again.status, again.body)
	}
}

func TestIdempotencyKeysExpire(t *testing.T) {
	api := &thingsAPI{}
	env := newIdemEnv(t, api)
	tenant := uuid.New()
	env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	age := func(d time.Duration) {
		t.Helper()
		err := postgres.InTenant(context.Background(), env.owner, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), `update idempotency_keys set created_at = now() - make_interval(secs => $1)`, d.Seconds())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	age(23 * time.Hour)
	if have := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Bob"}`); have.status != 422 {
		t.Fatalf("a 23 h old key: want 422, have %d", have.status)
	}
	age(25 * time.Hour)
	have := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Bob"}`)
	if have.status != 201 || have.header.Get("Idempotent-Replayed") != "" || !strings.Contains(have.body, "Bob") {
		t.Fatalf("a 25 h old key must be free: %d %s", have.status, have.body)
	}
}

// Two users of one tenant who happen to pick the same key each get their
// own request run, never the other's stored answer.
func TestIdempotencyKeysBelongToTheCaller(t *testing.T) {
	api := &thingsAPI{}
	env := newIdemEnv(t, api)
	tenant := uuid.New()
	a := env.postAs(t, http.MethodPost, tenant, "alice", "import-1", `{"name":"Ada"}`)
	b := env.postAs(t, http.MethodPost, tenant, "bob", "import-1", `{"name":"Ada"}`)
	if a.status != 201 || b.status != 201 || b.header.Get("Idempotent-Replayed") != "" || api.calls.Load() != 2 {
		t.Fatalf("alice %d, bob %d (replayed %q), handler ran %d times", a.status, b.status, b.header.Get("Idempotent-Replayed"), api.calls.Load())
	}
}

// failingComplete is the real store whose Complete fails, as when the
// database goes away between the effect and storing its answer.
type failingComplete struct{ httpkit.IdempotencyStore }

func (failingComplete) Complete(context.Context, uuid.UUID, string, uuid.UUID, httpkit.StoredResponse) error {
	return errors.New("connection lost")
}

// When the answer cannot be stored, the key stays claimed: a retry is told
// to wait (409) instead of running the request a second time.
func TestIdempotencyNeverReleasesAKeyWhoseRequestTookEffect(t *testing.T) {
	api := &thingsAPI{}
	env := newIdemEnvWith(t, api, httpkit.DefaultIdempotencyLease, func(s httpkit.IdempotencyStore) httpkit.IdempotencyStore { return failingComplete{s} })
	tenant := uuid.New()
	if first := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`); first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	retry := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	wantSlug(t, retry, http.StatusConflict, "idempotency-key-in-flight")
	if api.calls.Load() != 1 {
		t.Fatalf("the handler ran %d times, want once", api.calls.Load())
	}
}

// effectAPI creates things as a service's write does: in a tenant
// transaction in the request's context, with an outbox event whose subject
// is the thing's id. With chain, the event goes as a chained statement
// (postgres.Chain); with failAfter, the handler answers 500 after its effect
// committed.
type effectAPI struct {
	pool      *pgxpool.Pool
	chain     bool
	failAfter bool
	calls     atomic.Int64
}

func (a *effectAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	tenant, _, _ := tenantOf(r)
	id, err := commitThing(r.Context(), a.pool, tenant, a.chain)
	if err == nil && a.failAfter {
		err = errors.New("the answer could not be written")
	}
	if err != nil {
		httpkit.EncodeError(r.Context(), err, w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q}`, id)
}

// commitThing commits a thing's creation: its crm.thing.created event.
func commitThing(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, chain bool) (uuid.UUID, error) {
	id := uuid.New()
	ev := events.Event{ID: uuid.New(), Type: "crm.thing.created", Source: "/things", Subject: id.String(), TenantID: tenant,
		Topic: "crm.things.v1", Key: []byte(id.String()), Data: []byte("thing")}
	if !chain {
		return id, postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error { return events.Append(ctx, tx, ev) })
	}
	writes := &pgx.Batch{}
	if err := events.QueueAppend(ctx, writes, ev); err != nil {
		return uuid.Nil, err
	}
	b := &pgx.Batch{}
	b.QueuedQueries = append(b.QueuedQueries, postgres.Chain(writes.QueuedQueries...))
	return id, postgres.InTenantBatch(ctx, pool, tenant, b)
}

func (e idemEnv) outboxRows(t *testing.T, tenant uuid.UUID) int {
	t.Helper()
	var n int
	err := postgres.InTenant(context.Background(), e.app, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `select count(*) from outbox`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// abandon claims key for body as a request of user-1 whose process then
// died: the claim is made, and nothing after it.
func (e idemEnv) abandon(t *testing.T, tenant uuid.UUID, key, body string) *postgres.IdempotencyClaim {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/things", strings.NewReader(body))
	c, err := e.store.Claim(context.Background(), tenant, "user-1 "+key, httpkit.RequestHash(req, []byte(body)))
	if err != nil || c.State != httpkit.ClaimAcquired {
		t.Fatalf("claim: %v, state %v", err, c.State)
	}
	return &postgres.IdempotencyClaim{Tenant: tenant, Key: "user-1 " + key, Token: c.Token}
}

// testLease is the lease of the tests that wait for one to pass.
const testLease = time.Second

func afterTheLease() { time.Sleep(testLease + 300*time.Millisecond) }

func keepStore(s httpkit.IdempotencyStore) httpkit.IdempotencyStore { return s }

// A claim whose process died is taken over a lease later, not after minutes.
func TestIdempotencyTakesOverAnAbandonedClaim(t *testing.T) {
	api := &thingsAPI{}
	env := newIdemEnvWith(t, api, testLease, keepStore)
	tenant := uuid.New()
	env.abandon(t, tenant, "k-1", `{"name":"Ada"}`)
	wantSlug(t, env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`), http.StatusConflict, "idempotency-key-in-flight")
	afterTheLease()
	have := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`)
	if have.status != http.StatusCreated || have.header.Get("Idempotent-Replayed") != "" || api.calls.Load() != 1 {
		t.Fatalf("after the lease: want the request run (201), have %d %s, handler ran %d times", have.status, have.body, api.calls.Load())
	}
	if again := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`); again.header.Get("Idempotent-Replayed") != "true" || again.body != have.body {
		t.Fatalf("the taken-over key does not replay its answer: %d %s", again.status, again.body)
	}
}

// A request that runs for several leases keeps renewing its claim: a retry
// meanwhile is told to wait, never let in to run it a second time.
func TestIdempotencyKeepsTheClaimOfALiveSlowRequest(t *testing.T) {
	api := &thingsAPI{block: make(chan struct{}), inside: make(chan struct{}, 2)}
	env := newIdemEnvWith(t, api, testLease, keepStore)
	tenant := uuid.New()
	firstDone := make(chan answer, 1)
	go func() { firstDone <- env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`) }()
	<-api.inside
	time.Sleep(3 * testLease)
	retryDone := make(chan answer, 1)
	go func() { retryDone <- env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`) }()
	select {
	case retry := <-retryDone:
		wantSlug(t, retry, http.StatusConflict, "idempotency-key-in-flight")
	case <-time.After(5 * time.Second):
		t.Error("the retry took the key of a live request over: its handler runs")
	}
	close(api.block)
	first := <-firstDone
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	if n := api.calls.Load(); n != 1 {
		t.Fatalf("the handler ran %d times, want once", n)
	}
	if again := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`); again.header.Get("Idempotent-Replayed") != "true" || again.body != first.body {
		t.Fatalf("after completion: %d %s", again.status, again.body)
	}
}

// lostAnswer is the idempotency-key-answer-lost problem.
type lostAnswer struct {
	CommittedAt time.Time `json:"committed_at"`
	Records     []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"records"`
}

func wantAnswerLost(t *testing.T, have answer, thing uuid.UUID) {
	t.Helper()
	wantSlug(t, have, http.StatusConflict, "idempotency-key-answer-lost")
	var p lostAnswer
	if err := json.Unmarshal([]byte(have.body), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1 || p.Records[0].Type != "crm.thing.created" || p.Records[0].ID != thing.String() {
		t.Errorf("records: want [crm.thing.created %s], have %s", thing, have.body)
	}
	if p.CommittedAt.IsZero() || time.Since(p.CommittedAt) > time.Minute || !strings.Contains(have.body, p.CommittedAt.UTC().Format(time.RFC3339)) {
		t.Errorf("committed_at missing, wrong, or not in the detail: %s", have.body)
	}
}

// A process that died after its request's write committed and before the
// answer was stored: a retry after the lease carries out nothing, and says
// when the request was carried out and which records it changed. The write
// marks the claim whether its events go as statements of their own or
// chained into one.
func TestIdempotencyNeverCarriesOutTwiceARequestWhoseAnswerWasLost(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", chain), func(t *testing.T) {
			api := &effectAPI{chain: chain}
			env := newIdemEnvWith(t, api, testLease, keepStore)
			tenant := uuid.New()
			claim := env.abandon(t, tenant, "k-1", `{"name":"Ada"}`)
			thing, err := commitThing(postgres.WithIdempotencyClaim(context.Background(), claim), env.app, tenant, chain)
			if err != nil {
				t.Fatal(err)
			}
			wantSlug(t, env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`), http.StatusConflict, "idempotency-key-in-flight")
			afterTheLease()
			for range 2 {
				wantAnswerLost(t, env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`), thing)
			}
			if n := api.calls.Load(); n != 0 {
				t.Errorf("the handler ran %d times, want never", n)
			}
			if n := env.outboxRows(t, tenant); n != 1 {
				t.Errorf("outbox rows: want 1, have %d", n)
			}
			wantSlug(t, env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Bob"}`), http.StatusUnprocessableEntity, "idempotency-key-reuse")
		})
	}
}

// A request that fails (5xx) after its write committed is not released for
// a retry to carry out again: the retry learns at once that its answer was
// lost.
func TestIdempotencyKeepsTheKeyOfAFailureAfterTheEffect(t *testing.T) {
	api := &effectAPI{failAfter: true}
	env := newIdemEnvWith(t, api, testLease, keepStore)
	tenant := uuid.New()
	if first := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`); first.status != http.StatusInternalServerError {
		t.Fatalf("first: want 500, have %d %s", first.status, first.body)
	}
	var thing uuid.UUID
	err := postgres.InTenant(context.Background(), env.app, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `select subject::uuid from outbox`).Scan(&thing)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantAnswerLost(t, env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`), thing)
	if n := api.calls.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}

// A request whose claim was taken over while it ran (its renewals never got
// through) cannot commit its write afterwards: the request that took the key
// carries it out, and only that one.
func TestIdempotencyRefusesTheWriteOfAClaimTakenOver(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", chain), func(t *testing.T) {
			env := newIdemEnvWith(t, &thingsAPI{}, testLease, keepStore)
			tenant := uuid.New()
			stale := env.abandon(t, tenant, "k-1", `{"name":"Ada"}`)
			afterTheLease()
			env.abandon(t, tenant, "k-1", `{"name":"Ada"}`)
			_, err := commitThing(postgres.WithIdempotencyClaim(context.Background(), stale), env.app, tenant, chain)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "RP412" {
				t.Fatalf("the write of a claim taken over: want SQLSTATE RP412, have %v", err)
			}
			if n := env.outboxRows(t, tenant); n != 0 {
				t.Fatalf("outbox rows: want 0, have %d", n)
			}
		})
	}
}

// send is a POST of body to /v1/things with key, as user-1 of tenant, with
// the given Content-Type and If-Match (none when empty).
func (e idemEnv) send(t *testing.T, tenant uuid.UUID, key, contentType, ifMatch, body string) answer {
	t.Helper()
	return e.request(t, http.MethodPost, tenant, "user-1", key, body, "Content-Type", contentType, "If-Match", ifMatch)
}

// versionedAPI acts on thing 1 at version 2: an If-Match naming another
// version answers 412, as a POST that takes If-Match does.
type versionedAPI struct{ thingsAPI }

func (a *versionedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := r.Header.Get("If-Match"); m != "" && m != httpkit.ETag(2) {
		a.calls.Add(1)
		httpkit.EncodeError(r.Context(), apperr.New(apperr.KindPreconditionFailed, "version-mismatch", "thing 1 is at version 2"), w)
		return
	}
	a.thingsAPI.ServeHTTP(w, r)
}

// An answer caused by a header is not replayed to the same body sent with
// another: a body of the wrong media type is refused before its key is
// claimed, and a changed Content-Type or If-Match is another request.
func TestIdempotencyAnswersDependOnTheHeadersThatCausedThem(t *testing.T) {
	api := &versionedAPI{}
	env := newIdemEnv(t, api)
	tenant := uuid.New()
	body := `{"name":"Ada"}`

	wantSlug(t, env.send(t, tenant, "k-1", "text/plain", "", body), http.StatusUnsupportedMediaType, "unsupported-media-type")
	if have := env.send(t, tenant, "k-1", "application/json", "", body); have.status != http.StatusCreated || have.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the body sent again as JSON after a 415: want 201 carried out, have %d %s", have.status, have.body)
	}
	wantSlug(t, env.send(t, tenant, "k-1", "application/json; charset=utf-8", "", body), http.StatusUnprocessableEntity, "idempotency-key-reuse")

	wantSlug(t, env.send(t, tenant, "k-2", "application/json", httpkit.ETag(1), body), http.StatusPreconditionFailed, "version-mismatch")
	wantSlug(t, env.send(t, tenant, "k-2", "application/json", httpkit.ETag(2), body), http.StatusUnprocessableEntity, "idempotency-key-reuse")
	wantSlug(t, env.send(t, tenant, "k-2", "application/json", "", body), http.StatusUnprocessableEntity, "idempotency-key-reuse")
	if have := env.send(t, tenant, "k-2", "application/json", httpkit.ETag(1), body); have.status != http.StatusPreconditionFailed || have.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the same stale If-Match again: want its 412 replayed, have %d %v %s", have.status, have.header, have.body)
	}
	if n := api.calls.Load(); n != 2 {
		t.Fatalf("the handler ran %d times, want twice (the 201 and the 412)", n)
	}
}

// A key stored before Content-Type and If-Match were part of a request's
// identity (the hash of method, path and query, and body) still replays to
// the request sent as most are, with application/json and no If-Match.
func TestIdempotencyReplaysKeysStoredBeforeHeadersCounted(t *testing.T) {
	env := newIdemEnv(t, &thingsAPI{})
	tenant := uuid.New()
	body := `{"name":"Ada"}`
	old := sha256.Sum256([]byte("POST\x00/v1/things?\x00" + body))
	ctx := context.Background()
	c, err := env.store.Claim(ctx, tenant, "user-1 k-1", old[:])
	if err != nil {
		t.Fatal(err)
	}
	stored := httpkit.StoredResponse{Status: http.StatusCreated, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":7}`)}
	if err := env.store.Complete(ctx, tenant, "user-1 k-1", c.Token, stored); err != nil {
		t.Fatal(err)
	}
	if have := env.send(t, tenant, "k-1", "application/json", "", body); have.body != `{"id":7}` || have.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("want the stored answer replayed, have %d %s", have.status, have.body)
	}
}

// lostRenewals is a store whose renewals never get through, as when a
// request's database connection hangs while its handler runs.
type lostRenewals struct{ httpkit.IdempotencyStore }

func (lostRenewals) Renew(context.Context, uuid.UUID, string, uuid.UUID) (bool, error) {
	return false, errors.New("connection lost")
}

// heldEffectAPI is effectAPI whose first request waits for release before
// it writes.
type heldEffectAPI struct {
	effectAPI
	arrived         atomic.Int64
	inside, release chan struct{}
}

func (a *heldEffectAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.arrived.Add(1) == 1 {
		a.inside <- struct{}{}
		<-a.release
	}
	a.effectAPI.ServeHTTP(w, r)
}

// The request whose key a retry took over while it ran is told so with a
// 409, not an internal error: its write is refused (SQLSTATE RP412), and
// the retry's is the one carried out.
func TestIdempotencyTellsTheRequestTakenOverWhatHappened(t *testing.T) {
	api := &heldEffectAPI{inside: make(chan struct{}, 1), release: make(chan struct{})}
	env := newIdemEnvWith(t, api, testLease, func(s httpkit.IdempotencyStore) httpkit.IdempotencyStore { return lostRenewals{s} })
	api.pool = env.app
	tenant := uuid.New()
	firstDone := make(chan answer, 1)
	go func() { firstDone <- env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`) }()
	<-api.inside
	afterTheLease()
	if retry := env.post(t, http.MethodPost, tenant, "k-1", `{"name":"Ada"}`); retry.status != http.StatusCreated {
		t.Fatalf("the retry after the lease: want 201, have %d %s", retry.status, retry.body)
	}
	close(api.release)
	first := <-firstDone
	wantSlug(t, first, http.StatusConflict, "idempotency-key-taken-over")
	if !strings.Contains(first.body, "same key") {
		t.Errorf("the 409 should say what to do: %s", first.body)
	}
	if n := env.outboxRows(t, tenant); n != 1 {
		t.Fatalf("outbox rows: want 1 (the retry's), have %d", n)
	}
}
