package testenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// World is what a domain service's tests run it on in process: a fresh
// database, a broker holding the platform's tenancy topics and the topics
// given, and the dev issuer its tokens come from.
type World struct {
	T       testing.TB
	DB      pgcluster.Database
	Brokers []string
	Issuer  *devauth.Issuer
}

// NewWorld makes a service's world.
func NewWorld(t testing.TB, topics ...string) *World {
	t.Helper()
	issuer, err := devauth.LoadOrCreate(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &World{T: t, DB: NewDatabase(t), Issuer: issuer,
		Brokers: Kafka(t, append([]string{tenancy.TopicTenants, tenancy.TopicAcks}, topics...)...)}
}

// Config is the platform part of the service's configuration: it migrates
// its database as the owner, connects as the app role, reads the broker and
// trusts the world's issuer.
func (w *World) Config() servicekit.Config {
	return servicekit.Config{DatabaseURL: w.DB.AppURL, MigrateDatabaseURL: w.DB.OwnerURL, AppRole: w.DB.AppRole,
		Brokers: w.Brokers, Auth: auth.Config{PublicKeyPEM: w.Issuer.PublicKeyPEM(), Issuer: auth.DevIssuerName, Audience: auth.DevAudience}}
}

// Token is a token of user, holding role, in team.
func (w *World) Token(tenant uuid.UUID, user, role, team string) string {
	w.T.Helper()
	tok, err := w.Issuer.Token(auth.Principal{TenantID: tenant, UserID: user, Roles: []string{role}, Team: team}, time.Hour)
	if err != nil {
		w.T.Fatal(err)
	}
	return tok
}

// Provision publishes rec as the operator would and waits until every
// service named has acknowledged its generation.
func (w *World) Provision(rec *tenancyv1.TenantRecord, services ...string) {
	w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prov := tenancy.NewProvisioner(w.Brokers, "/test")
	defer prov.Close()
	if err := prov.Publish(ctx, rec); err != nil {
		w.T.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, rec.GetId(), rec.GetGeneration(), services); err != nil {
		w.T.Fatal(err)
	}
}

// Tenant provisions a new tenant with default settings, acknowledged by
// the services named, and returns its id.
func (w *World) Tenant(services ...string) uuid.UUID {
	w.T.Helper()
	id := uuid.New()
	w.Provision(&tenancyv1.TenantRecord{Id: id.String(), Name: fmt.Sprintf("t-%.8s", id), Generation: 1, Region: "local"}, services...)
	return id
}

// App is a service as its app package assembles it.
type App interface {
	Run(context.Context, net.Listener) error
	Close()
}

// Run runs the app newApp makes until the test ends and returns its URL.
func Run[A App](w *World, newApp func(context.Context) (A, error)) string {
	w.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx)
	if err != nil {
		cancel()
		w.T.Fatal(err)
	}
	url, _ := Serve(w.T, ctx, cancel, a.Run, a.Close)
	return url
}
