package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// world is one tenant's platform built from the services' real binaries,
// each started as its own process on a private PostgreSQL database and one
// kfake broker.
type world struct {
	t          *testing.T
	brokers    []string
	issuer     *devauth.Issuer
	keyFile    string
	tenant     uuid.UUID
	contactsDB pgcluster.Database
	salesDB    pgcluster.Database
	procs      map[string]*proc
	// ports are the services' API ports, chosen before any starts, so
	// that each knows the others' URLs.
	ports map[string]int
}

var topics = append(catalog.Topics(), tenancy.TopicTenants, tenancy.TopicAcks)

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, brokers: testenv.Kafka(t, topics...), keyFile: filepath.Join(dir, "dev.pem"),
		tenant: uuid.New(), procs: map[string]*proc{}, ports: map[string]int{}}
	var err error
	if w.issuer, err = devauth.LoadOrCreate(filepath.Join(dir, "issuer.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.keyFile, w.issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	w.contactsDB = testenv.NewDatabase(t)
	w.salesDB = testenv.NewDatabase(t)
	return w
}

// token is a user's token of the world's tenant.
func (w *world) token(role, team string) string {
	tok, err := w.issuer.Token(auth.Principal{TenantID: w.tenant, UserID: role + "-user", Roles: []string{role}, Team: team}, time.Hour)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// start builds and runs service, then provisions the world's tenant in it.
func (w *world) start(service string) *proc {
	t := w.t
	t.Helper()
	p := &proc{url: w.url(service)}
	db := w.contactsDB
	if service == "sales" {
		db = w.salesDB
	}
	env := []string{"HTTP_ADDR=" + strings.TrimPrefix(p.url, "http://"), fmt.Sprintf("OPS_ADDR=127.0.0.1:%d", testenv.FreePorts(t, 1)),
		"DATABASE_URL=" + db.AppURL, "MIGRATE_DATABASE_URL=" + db.OwnerURL, "DATABASE_APP_ROLE=" + db.AppRole,
		"KAFKA_BROKERS=" + w.brokers[0], "AUTH_PUBLIC_KEY_FILE=" + w.keyFile,
		"CONTACTS_URL=" + w.url("contacts"), "SALES_URL=" + w.url("sales")}
	p.Program = testenv.StartProgram(t, testenv.BuildProgram(t, service), env, p.url+"/readyz")
	w.procs[service] = p
	w.provision(service)
	return p
}

// url is service's base URL, the same before and after it starts.
func (w *world) url(service string) string {
	if w.ports[service] == 0 {
		w.ports[service] = testenv.FreePorts(w.t, 1)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", w.ports[service])
}

// provision publishes the tenant's record and waits for service's ack.
func (w *world) provision(service string) {
	t := w.t
	prov := tenancy.NewProvisioner(w.brokers, "/rapport/fault-test")
	defer prov.Close()
	rec := &tenancyv1.TenantRecord{Id: w.tenant.String(), Name: "fault", Generation: 1, Region: "local",
		Locale: "ru", BaseCurrency: "RUB", DefaultCountry: "RU"}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := prov.Publish(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, rec.GetId(), 1, []string{service}); err != nil {
		t.Fatalf("%s did not acknowledge the tenant: %v", service, err)
	}
}

// proc is one service process (Kill, Restart, Output) and its API's URL.
type proc struct {
	*testenv.Program
	url string
}

// idOf is the "id" of a JSON object ("" when none).
func idOf(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.ID
}
