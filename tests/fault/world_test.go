package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/pgcluster"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/pkg/testenv"
)

// world is one tenant's platform built from the services' real binaries,
// each started as its own process on a private PostgreSQL database and one
// kfake broker.
type world struct {
	t          *testing.T
	brokers    []string
	issuer     *auth.DevIssuer
	keyFile    string
	tenant     uuid.UUID
	contactsDB pgcluster.Database
	salesDB    pgcluster.Database
	procs      map[string]*proc
}

var topics = []string{"crm.contacts.events.v1", "crm.sales.events.v1", "crm.tasks.events.v1", "crm.documents.events.v1",
	tenancy.TopicTenants, tenancy.TopicAcks}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, brokers: testenv.Kafka(t, topics...), keyFile: filepath.Join(dir, "dev.pem"),
		tenant: uuid.New(), procs: map[string]*proc{}}
	var err error
	if w.issuer, err = auth.LoadOrCreateDevIssuer(filepath.Join(dir, "issuer.pem")); err != nil {
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
	port := testenv.FreePorts(t, 1)
	p := &proc{t: t, name: service, bin: build(t, service), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	db := w.contactsDB
	if service == "sales" {
		db = w.salesDB
	}
	p.env = append(os.Environ(),
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), fmt.Sprintf("OPS_ADDR=127.0.0.1:%d", testenv.FreePorts(t, 1)),
		"DATABASE_URL="+db.AppURL, "MIGRATE_DATABASE_URL="+db.OwnerURL, "DATABASE_APP_ROLE="+db.AppRole,
		"KAFKA_BROKERS="+w.brokers[0], "AUTH_PUBLIC_KEY_FILE="+w.keyFile)
	if c := w.procs["contacts"]; c != nil {
		p.env = append(p.env, "CONTACTS_URL="+c.url)
	}
	w.procs[service] = p
	p.restart()
	w.provision(service)
	return p
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

// proc is one service process.
type proc struct {
	t        *testing.T
	name     string
	bin, url string
	env      []string
	cmd      *exec.Cmd
	out      *lockedWriter
	exited   chan struct{}
}

// restart starts the binary and waits until it is ready.
func (p *proc) restart() {
	t := p.t
	t.Helper()
	p.out = &lockedWriter{}
	p.cmd = exec.Command(p.bin)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited while starting:\n%s", p.name, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 2 minutes:\n%s", p.name, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL and waits until it is gone.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(signalKill); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// build compiles services/<name>/cmd/<name> for the test (the Go build
// cache makes a second build of the same code a link).
func build(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./services/"+name+"/cmd/"+name)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// idOf is the "id" of a JSON object ("" when none).
func idOf(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.ID
}

// lockedWriter collects a process's output, written from two pipes.
type lockedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
