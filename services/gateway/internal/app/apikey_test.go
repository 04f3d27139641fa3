package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// whoami is what the stub service answers: the caller as it verified them.
type whoami struct {
	TenantID string   `json:"tenant_id"`
	UserID   string   `json:"user_id"`
	Roles    []string `json:"roles"`
	// Admitted is the tenant the service's directory admitted.
	Admitted string `json:"admitted"`
}

// stubService is a domain service as servicekit builds every one (its own
// database, tenancy applier and directory, token verification), whose API
// answers each request with the principal it authenticated.
type stubService struct {
	base   *servicekit.Base
	url    string
	served atomic.Int32
}

type noDefaults struct{}

func (noDefaults) Apply(context.Context, pgx.Tx, *tenancyv1.TenantRecord) error { return nil }
func (noDefaults) Purge(context.Context, pgx.Tx, uuid.UUID) error               { return nil }

func startStubService(t *testing.T, brokers []string, jwtKey []byte) *stubService {
	t.Helper()
	db := testenv.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := servicekit.Config{DatabaseURL: db.AppURL, MigrateDatabaseURL: db.OwnerURL, AppRole: db.AppRole, Brokers: brokers,
		Auth: auth.Config{PublicKeyPEM: jwtKey, Issuer: auth.DevIssuerName, Audience: auth.DevAudience}}
	base, err := servicekit.New(ctx, "stub", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), noDefaults{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stubService{base: base}
	base.Serve(servicekit.API{DocPath: "/v1/stub/openapi.json", Doc: []byte(`{}`), Routes: func(mux *http.ServeMux) {
		mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
			s.served.Add(1)
			p, _ := auth.PrincipalFrom(r.Context())
			tn, _ := tenancy.TenantFrom(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(whoami{TenantID: p.TenantID.String(), UserID: p.UserID, Roles: p.Roles, Admitted: tn.ID.String()})
		})
	}})
	s.url, _ = testenv.Serve(t, ctx, cancel, base.Run, base.Close)
	return s
}

// knows waits until the service's own directory holds generation of tenant.
func (s *stubService) knows(t *testing.T, tenant uuid.UUID, generation int64) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if tn, ok := s.base.Directory.Lookup(tenant); ok && tn.Generation >= generation {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s generation %d never reached the service's directory", tenant, generation)
		}
	}
}

func newAPIKey(t *testing.T) (string, *tenancyv1.ApiKey) {
	t.Helper()
	key, rec, err := tenancy.IssueAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	return key, rec
}

// seen is who the service behind the gateway took the caller for.
func seen(t *testing.T, have reply) whoami {
	t.Helper()
	if have.status != http.StatusOK {
		t.Fatalf("status: want 200 from the service, have %d (%s)", have.status, have.body)
	}
	var w whoami
	if err := json.Unmarshal(have.body, &w); err != nil {
		t.Fatalf("service answer %q: %v", have.body, err)
	}
	return w
}

func TestTenantAPIKeys(t *testing.T) {
	var svc *stubService
	h := start(t, options{contacts: func(t *testing.T, brokers []string, jwtKey []byte) string {
		svc = startStubService(t, brokers, jwtKey)
		return svc.url
	}})
	a, b := uuid.New(), uuid.New()
	keyA, recA := newAPIKey(t)
	keyB, recB := newAPIKey(t)
	h.publish(&tenancyv1.TenantRecord{Id: a.String(), Generation: 1, ApiKeys: []*tenancyv1.ApiKey{recA}})
	h.publish(&tenancyv1.TenantRecord{Id: b.String(), Generation: 1, ApiKeys: []*tenancyv1.ApiKey{recB}})
	svc.knows(t, a, 1)
	svc.knows(t, b, 1)

	t.Run("a key is served as an admin of its tenant", func(t *testing.T) {
		for _, tc := range []struct {
			key    string
			tenant uuid.UUID
			id     string
		}{{keyA, a, recA.GetId()}, {keyB, b, recB.GetId()}} {
			w := seen(t, h.do(http.MethodGet, "/v1/contacts", tc.key, "", nil))
			want := whoami{TenantID: tc.tenant.String(), UserID: "apikey:" + tc.id, Roles: []string{auth.RoleAdmin}, Admitted: tc.tenant.String()}
			if w.TenantID != want.TenantID || w.UserID != want.UserID || !slices.Equal(w.Roles, want.Roles) || w.Admitted != want.Admitted {
				t.Fatalf("the service saw %+v, want %+v", w, want)
			}
		}
	})

	t.Run("a key reaches only its own tenant", func(t *testing.T) {
		// Nothing but the key says which tenant is meant: a path, query or
		// header naming tenant B changes nothing.
		w := seen(t, h.do(http.MethodGet, "/v1/contacts?tenant_id="+b.String(), keyA, "",
			http.Header{"X-Tenant-Id": {b.String()}}))
		if w.TenantID != a.String() || w.Admitted != a.String() {
			t.Fatalf("tenant A's key was served as %+v", w)
		}
	})

	t.Run("a JWT still works", func(t *testing.T) {
		w := seen(t, h.do(http.MethodGet, "/v1/contacts", h.token(a, time.Hour), "", nil))
		if w.TenantID != a.String() || w.UserID != "u-1" || !slices.Equal(w.Roles, []string{"rep"}) {
			t.Fatalf("the service saw %+v for a JWT of tenant A's u-1", w)
		}
	})

	t.Run("a wrong secret is refused", func(t *testing.T) {
		otherKey, _ := newAPIKey(t)
		wrong := keyA[:len(keyA)-43] + otherKey[len(otherKey)-43:]
		before := svc.served.Load()
		for _, key := range []string{wrong, otherKey, "rpk_malformed"} {
			have := h.do(http.MethodGet, "/v1/contacts", key, "", nil)
			wantProblem(t, have, http.StatusUnauthorized, "invalid-token")
			if have.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("a 401 without a challenge: %v", have.header)
			}
		}
		if n := svc.served.Load() - before; n != 0 {
			t.Fatalf("refused keys reached the service %d times", n)
		}
	})

	t.Run("a rotated key stops working at once", func(t *testing.T) {
		keyB2, recB2 := newAPIKey(t)
		h.publish(&tenancyv1.TenantRecord{Id: b.String(), Generation: 2, ApiKeys: []*tenancyv1.ApiKey{recB2}})
		svc.knows(t, b, 2)
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts", keyB, "", nil), http.StatusUnauthorized, "invalid-token")
		if w := seen(t, h.do(http.MethodGet, "/v1/contacts", keyB2, "", nil)); w.TenantID != b.String() {
			t.Fatalf("tenant B's new key was served as %+v", w)
		}
	})

	t.Run("a suspended tenant's key is forbidden", func(t *testing.T) {
		h.publish(&tenancyv1.TenantRecord{Id: a.String(), Generation: 2, Suspended: true, ApiKeys: []*tenancyv1.ApiKey{recA}})
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts", keyA, "", nil), http.StatusForbidden, "tenant-suspended")
		// The service refuses it on its own too, from its own directory.
		svc.knows(t, a, 2)
		req, err := http.NewRequest(http.MethodGet, svc.url+"/v1/contacts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+keyA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("the service served a suspended tenant's key directly: %d", resp.StatusCode)
		}
	})

	t.Run("a tombstoned tenant's key is unknown", func(t *testing.T) {
		if err := h.prov.Tombstone(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, ok := h.gateway.Directory().Lookup(a); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the tombstone never reached the gateway's directory")
			}
		}
		wantProblem(t, h.do(http.MethodGet, "/v1/contacts", keyA, "", nil), http.StatusUnauthorized, "invalid-token")
		// Tenant B is untouched.
		if w := seen(t, h.do(http.MethodGet, "/v1/contacts", h.token(b, time.Hour), "", nil)); w.TenantID != b.String() {
			t.Fatalf("tenant B after A's tombstone: %+v", w)
		}
	})
}
