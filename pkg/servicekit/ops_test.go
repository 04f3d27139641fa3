package servicekit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// noDefaults is a service with nothing to seed for a tenant.
type noDefaults struct{}

func (noDefaults) Apply(context.Context, pgx.Tx, *tenancyv1.TenantRecord) error { return nil }
func (noDefaults) Purge(context.Context, pgx.Tx, uuid.UUID) error               { return nil }

// Metrics name tenants: a service serves them on its ops port, never on the
// API port, which keeps the health endpoints probes use.
func TestMetricsAreServedOnTheOpsPortOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db := testenv.NewDatabase(t)
	brokers := testenv.Kafka(t, tenancy.TopicTenants, tenancy.TopicAcks)
	issuer, err := devauth.LoadOrCreate(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	opsURL := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePorts(t, 1))
	cfg := servicekit.Config{DatabaseURL: db.AppURL, MigrateDatabaseURL: db.OwnerURL, AppRole: db.AppRole, Brokers: brokers,
		OpsAddr: strings.TrimPrefix(opsURL, "http://"),
		Auth:    auth.Config{PublicKeyPEM: issuer.PublicKeyPEM(), Issuer: auth.DevIssuerName, Audience: auth.DevAudience}}
	b, err := servicekit.New(ctx, "widgets", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), noDefaults{})
	if err != nil {
		t.Fatal(err)
	}
	b.Serve(servicekit.API{DocPath: "/v1/widgets/openapi.json", Doc: []byte(`{}`), Routes: func(*http.ServeMux) {}})
	apiURL, _ := testenv.Serve(t, ctx, cancel, b.Run, b.Close)

	// Readiness comes once the tenant directory is loaded, on both ports.
	for _, base := range []string{apiURL, opsURL} {
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if status, _ := get(base + "/readyz"); status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/readyz never answered 200", base)
			}
		}
		if status, _ := get(base + "/healthz"); status != http.StatusOK {
			t.Errorf("%s/healthz: want 200, have %d", base, status)
		}
	}
	status, body := get(opsURL + "/metrics")
	if status != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("ops /metrics: want 200 with the Prometheus exposition, have %d %.300s", status, body)
	}
	status, body = get(apiURL + "/metrics")
	if status != http.StatusNotFound || !strings.Contains(body, `"status":404`) {
		t.Fatalf("API /metrics: want a 404 problem, have %d %.300s", status, body)
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
