package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

func TestRunStopsCleanlyOnCancelAndTheNextRunKeepsTheData(t *testing.T) {
	root := fakeRoot(t, nil)
	cfg := testConfig(t, root)

	first := runUntilReady(t, cfg, func(up running) {
		conn, err := pgx.Connect(context.Background(), up.Postgres)
		if err != nil {
			t.Errorf("connect to PostgreSQL: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `create database kept`); err != nil {
			t.Errorf("create database: %v", err)
		}
	})
	pub, err := os.ReadFile(layout{dir: cfg.DataDir}.issuerPub())
	if err != nil {
		t.Fatalf("public key of the dev issuer not written: %v", err)
	}
	if first.Token == "" {
		t.Fatal("no dev token")
	}

	runUntilReady(t, cfg, func(up running) {
		conn, err := pgx.Connect(context.Background(), up.Postgres)
		if err != nil {
			t.Errorf("connect to PostgreSQL: %v", err)
			return
		}
		defer conn.Close(context.Background())
		var kept bool
		if err := conn.QueryRow(context.Background(), `select exists(select 1 from pg_database where datname='kept')`).Scan(&kept); err != nil || !kept {
			t.Errorf("database of the first run is gone (%v)", err)
		}
		// Each run publishes both demo tenants: the broker kept the first run's.
		if have := endOffsets(t, up.Brokers, tenancy.TopicTenants); have != 2*int64(len(demoTenants)) {
			t.Errorf("%s holds %d records after two runs, want %d", tenancy.TopicTenants, have, 2*len(demoTenants))
		}
	})
	if again, _ := os.ReadFile(layout{dir: cfg.DataDir}.issuerPub()); !bytes.Equal(pub, again) {
		t.Error("the dev issuer's key changed between runs")
	}
}

func TestRunStopsAndShowsTheLastLinesOfAServiceThatDies(t *testing.T) {
	root := fakeRoot(t, map[string]string{"crashy": `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("starting as", os.Getenv("OTEL_SERVICE_NAME"), "on", os.Getenv("HTTP_ADDR"))
	fmt.Fprintln(os.Stderr, "boom: cannot reach the moon")
	os.Exit(3)
}
`})
	cfg := testConfig(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	err := run(ctx, cfg)
	if err == nil {
		t.Fatal("run succeeded with a service that exits at start")
	}
	for _, want := range []string{"crashy exited while starting", "exit status 3", "boom: cannot reach the moon",
		// A service without a reserved port takes the first one after them.
		fmt.Sprintf("starting as crashy on 127.0.0.1:%d", cfg.ServicePort+len(portOffsets))} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	log, _ := os.ReadFile(filepath.Join(cfg.DataDir, "logs", "crashy.log"))
	if !strings.Contains(string(log), "boom: cannot reach the moon") {
		t.Errorf("crashy.log misses the output:\n%s", log)
	}
	if err := portFree(cfg.PGPort); err != nil {
		t.Errorf("PostgreSQL still listens after run returned: %v", err)
	}
	if err := portFree(cfg.KafkaPort); err != nil {
		t.Errorf("the broker still listens after run returned: %v", err)
	}
}

func TestRunStopsEverythingWhenAServiceDiesAfterStarting(t *testing.T) {
	root := fakeRoot(t, map[string]string{"flaky": `package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	http.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
	go http.ListenAndServe(os.Getenv("HTTP_ADDR"), nil)
	time.Sleep(time.Second)
	fmt.Println("lost my mind")
	os.Exit(4)
}
`})
	cfg := testConfig(t, root)
	cfg.AckTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	began := time.Now()
	err := run(ctx, cfg)
	if err == nil {
		t.Fatal("run succeeded with a service that died")
	}
	for _, want := range []string{"flaky exited unexpectedly", "exit status 4", "lost my mind"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if took := time.Since(began); took > cfg.AckTimeout/2 {
		t.Errorf("run noticed the death only after %s", took)
	}
	if err := portFree(cfg.PGPort); err != nil {
		t.Errorf("PostgreSQL still listens after run returned: %v", err)
	}
}

func TestRunRefusesATakenPortNamingTheFlagThatMovesIt(t *testing.T) {
	cfg := testConfig(t, fakeRoot(t, nil))
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.KafkaPort))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	err = run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d", cfg.KafkaPort)) || !strings.Contains(err.Error(), "-kafka-port") {
		t.Fatalf("have %v, want the taken port and -kafka-port named", err)
	}
	if _, statErr := os.Stat(filepath.Join(cfg.DataDir, "postgres")); statErr == nil {
		t.Error("PostgreSQL was initialised before the ports were checked")
	}
}

// Every program's ops port is 1000 above its API port; one already taken
// stops the run before anything starts, naming the flag that moves it.
func TestRunRefusesATakenOpsPort(t *testing.T) {
	cfg := testConfig(t, fakeRoot(t, map[string]string{"gateway": "package main\n\nfunc main() {}\n"}))
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.GatewayPort+1000))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d", cfg.GatewayPort+1000)) || !strings.Contains(err.Error(), "-gateway-port") {
		t.Fatalf("have %v, want the gateway's ops port and -gateway-port named", err)
	}
}

func TestRunRefusesPortsThatWouldCollide(t *testing.T) {
	cfg := testConfig(t, fakeRoot(t, map[string]string{"gateway": "package main\n\nfunc main() {}\n"}))
	cfg.KafkaPort = cfg.GatewayPort + 1000
	err := run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "would serve both") {
		t.Fatalf("have %v, want the collision of the broker and the gateway's ops port named", err)
	}
}

// runUntilReady runs the platform, calls check once it is up, then cancels
// and expects a clean stop.
func runUntilReady(t *testing.T, cfg config, check func(running)) running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var up running
	var ready bool
	cfg.Ready = func(r running) {
		up, ready = r, true
		check(r)
		cancel()
	}
	if err := run(ctx, cfg); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, cfg.Out)
	}
	if !ready {
		t.Fatalf("run returned before the platform was ready; output:\n%s", cfg.Out)
	}
	if err := portFree(cfg.PGPort); err != nil {
		t.Errorf("PostgreSQL still listens after run returned: %v", err)
	}
	return up
}

func testConfig(t *testing.T, root string) config {
	return config{
		Root:         root,
		DataDir:      filepath.Join(t.TempDir(), ".local"),
		PGPort:       freePort(t),
		KafkaPort:    freePort(t),
		GatewayPort:  freePort(t),
		ServicePort:  freePort(t),
		TenantRPS:    defaultTenantRPS,
		Env:          []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")},
		Out:          &syncBuffer{},
		ReadyTimeout: 30 * time.Second,
		AckTimeout:   30 * time.Second,
		StopGrace:    5 * time.Second,
	}
}

// fakeRoot is a repository with a go.work and one stdlib-only module per
// service (name → its main.go).
func fakeRoot(t *testing.T, services map[string]string) string {
	t.Helper()
	root := t.TempDir()
	work := "go 1.26.0\n"
	for name, src := range services {
		work += "\nuse ./services/" + name + "\n"
		mustWrite(t, filepath.Join(root, "services", name, "go.mod"), "module example.com/"+name+"\n\ngo 1.26.0\n")
		mustWrite(t, filepath.Join(root, "services", name, "cmd", name, "main.go"), src)
	}
	mustWrite(t, filepath.Join(root, "go.work"), work)
	if err := os.MkdirAll(filepath.Join(root, "services"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func endOffsets(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range parts {
		c, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum += last
	}
	return sum
}

// freePort is a port outside the ephemeral range, with ten free after it
// for the services numbered from it.
func freePort(t *testing.T) int { return testenv.FreePorts(t, 10) }

// syncBuffer is an output the test reads after run returns.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// -tenant-rps becomes the demo tenants' rate quota, which the gateway
// enforces; the banner says it and where each program's metrics are.
func TestTheDemoTenantsQuotaAndTheBanner(t *testing.T) {
	for _, tn := range demoTenants {
		if have := tn.record(5).GetQuotas().GetRequestsPerSecond(); have != 5 {
			t.Errorf("%s: quota %d, want 5", tn.Name, have)
		}
	}
	domain, gw := plan([]string{"contacts", "gateway", "sales"}, 8080, 8081)
	up := running{GatewayURL: gw.URL(), Token: "tok", TokenTTL: 12 * time.Hour, TenantRPS: 5,
		MetricsURLs: map[string]string{gw.Name: gw.MetricsURL()}}
	for _, s := range domain {
		up.MetricsURLs[s.Name] = s.MetricsURL()
	}
	have := banner(up, layout{dir: "/d"})
	for _, want := range []string{"5 requests/s", "-tenant-rps", "http://127.0.0.1:9080/metrics",
		"http://127.0.0.1:9081/metrics", "http://127.0.0.1:9082/metrics", "admin@demo, 12h;"} {
		if !strings.Contains(have, want) {
			t.Errorf("the banner does not mention %q:\n%s", want, have)
		}
	}
}
