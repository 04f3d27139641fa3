// Package platform runs the whole platform as `make run` does — deploy/local
// with real PostgreSQL, the embedded broker and every service as its own
// process — for end-to-end tests and benchmarks.
package platform

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// root is the repository root (this file lives in tests/platform).
func root(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// freePort is a port outside the ephemeral range, with ten free after it
// for the services numbered from it.
func freePort(t testing.TB) int { return testenv.FreePorts(t, 10) }

// Platform is one deploy/local process.
type Platform struct {
	t        testing.TB
	bin, dir string
	args     []string
	env      []string
	cmd      *exec.Cmd
	logs     *bytes.Buffer
	logMu    *sync.Mutex
	exited   chan error
	Gateway  string
}

// Build compiles deploy/local once per test.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "local")
	cmd := exec.Command("go", "build", "-o", bin, "./deploy/local")
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build deploy/local: %v\n%s", err, out)
	}
	return bin
}

// New describes a platform on data with free ports; env adds variables.
func New(t testing.TB, bin, data string, env ...string) *Platform {
	gw := freePort(t)
	p := &Platform{t: t, bin: bin, dir: data, env: env, Gateway: fmt.Sprintf("http://127.0.0.1:%d", gw),
		args: []string{"-data", data, "-pg-port", fmt.Sprint(freePort(t)), "-kafka-port", fmt.Sprint(freePort(t)),
			"-gateway-port", fmt.Sprint(gw), "-service-port", fmt.Sprint(freePort(t))}}
	return p
}

// Start runs it and waits until the gateway is ready.
func (p *Platform) Start() {
	t := p.t
	t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Dir = root(t)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.logs, p.logMu = &bytes.Buffer{}, &sync.Mutex{}
	out, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.logMu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.logMu.Unlock()
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
	})
	// Cold builds of every service take a while on two cores.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case err := <-p.exited:
			t.Fatalf("deploy/local exited before it was ready: %v\n%s", err, p.Output())
		default:
		}
		if strings.Contains(p.Output(), "Rapport is running") {
			if resp, err := http.Get(p.Gateway + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("platform not ready after 5 minutes:\n%s", p.Output())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Output is everything the platform printed so far.
func (p *Platform) Output() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.logs.String()
}

// Stop sends SIGTERM, as Ctrl-C does, and expects a clean exit.
func (p *Platform) Stop() {
	t := p.t
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("deploy/local did not stop cleanly: %v\n%s", err, p.Output())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("deploy/local still running 60s after SIGTERM:\n%s", p.Output())
	}
}

// Token runs `local token` for a tenant and role.
func (p *Platform) Token(tenant, role string) string {
	p.t.Helper()
	return p.UserToken(tenant, role, "", "")
}

// UserToken runs `local token` for a user of a team ("" for the command's
// defaults: <role>@<tenant> in team-1).
func (p *Platform) UserToken(tenant, role, user, team string) string {
	p.t.Helper()
	var stdout, stderr bytes.Buffer
	args := []string{"token", "-data", p.dir, "-tenant", tenant, "-role", role}
	if user != "" {
		args = append(args, "-user", user)
	}
	if team != "" {
		args = append(args, "-team", team)
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = root(p.t)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("token: %v: %s", err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// API calls the gateway as a client of the public API would (body: a JSON
// string, a value to encode, or nil/"" for none) and fails t unless the
// answer has status.
func (p *Platform) API(t testing.TB, method, path, token string, body any, status int) testenv.Reply {
	t.Helper()
	if s, ok := body.(string); ok && s == "" {
		body = nil
	}
	r := testenv.Call(t, method, p.Gateway+path, token, body)
	if r.Status != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	return r
}
