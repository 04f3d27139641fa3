package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildMu  sync.Mutex
	programs = map[string]string{} // service name to its binary
	builtDir string                // removed by Main
)

// BuildProgram compiles the service's command (services/<name>/cmd/<name>)
// once per test binary and returns the program's path.
func BuildProgram(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := programs[name]; ok {
		return bin
	}
	if builtDir == "" {
		dir, err := os.MkdirTemp("", "rapport-programs-*")
		if err != nil {
			t.Fatal(err)
		}
		builtDir = dir
	}
	bin := filepath.Join(builtDir, name)
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin, "./services/"+name+"/cmd/"+name)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..") // the repository
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: build %s: %v\n%s", name, err, out)
	}
	programs[name] = bin
	return bin
}

// removePrograms deletes what BuildProgram built.
func removePrograms() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
}

// Program is a program under test running as its own process, its output
// kept; it is stopped with SIGTERM when the test ends.
type Program struct {
	t        testing.TB
	bin      string
	env      []string
	readyURL string
	cmd      *exec.Cmd
	out      *lockedBuffer
	exited   chan struct{}
}

// startTimeout bounds a start: cold caches and migrations on two busy
// cores take a while.
const startTimeout = 2 * time.Minute

// StartProgram runs bin with env added to the test's environment and
// waits until readyURL answers 200.
func StartProgram(t testing.TB, bin string, env []string, readyURL string) *Program {
	t.Helper()
	p := &Program{t: t, bin: bin, env: append(os.Environ(), env...), readyURL: readyURL}
	t.Cleanup(p.Stop)
	p.Restart()
	return p
}

// StartIsolated runs bin with exactly env, nothing of the test's own
// environment, and waits until readyURL answers 200: a program started as
// a Pod's container would be.
func StartIsolated(t testing.TB, bin string, env []string, readyURL string) *Program {
	t.Helper()
	p := &Program{t: t, bin: bin, env: slices.Clone(env), readyURL: readyURL}
	if p.env == nil {
		p.env = []string{} // nil would mean the test's environment to exec
	}
	t.Cleanup(p.Stop)
	p.Restart()
	return p
}

// RunIsolated runs bin with args and exactly env to its end (within two
// minutes), as a Job's or a test Pod's container would, and returns what
// it printed; err says how it ended when that was not exit status 0.
func RunIsolated(t testing.TB, bin string, args, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Restart starts the program again, after Kill or Stop, and waits until it
// is ready.
func (p *Program) Restart() {
	t := p.t
	t.Helper()
	if p.running() {
		t.Fatalf("testenv: %s is still running", filepath.Base(p.bin))
	}
	p.out = &lockedBuffer{}
	p.cmd = exec.Command(p.bin)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(startTimeout); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.readyURL); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("testenv: %s exited while starting: %v\n%s", filepath.Base(p.bin), cmd.ProcessState, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s not ready after %s:\n%s", filepath.Base(p.bin), startTimeout, p.Output())
		}
	}
}

func (p *Program) running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill ends the program with SIGKILL, as a machine dies (no drain, no
// deferred cleanup), and waits until it is gone.
func (p *Program) Kill() {
	p.t.Helper()
	if !p.running() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// Stop ends the program as SIGTERM does, and kills it if it is still
// running 30 s later; a stopped program stays stopped.
func (p *Program) Stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Output is everything the program printed since it last started.
func (p *Program) Output() string { return p.out.String() }

// lockedBuffer keeps a program's output, written from two pipes, while a
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(s []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(s)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartService runs the domain service name as its own process on a private
// database, listening at addr, reading brokers and trusting the tokens
// signed for publicKeyPEM (the dev issuer's), with env added (its peers'
// URLs). Every reply a test receives from it is then checked against the
// OpenAPI document it serves.
func StartService(t testing.TB, name, addr string, brokers []string, publicKeyPEM []byte, env ...string) *Program {
	t.Helper()
	db := NewDatabase(t)
	key := filepath.Join(t.TempDir(), name+"-issuer.pub.pem")
	if err := os.WriteFile(key, publicKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	p := StartProgram(t, BuildProgram(t, name), append([]string{"DATABASE_URL=" + db.AppURL, "MIGRATE_DATABASE_URL=" + db.OwnerURL,
		"DATABASE_APP_ROLE=" + db.AppRole, "KAFKA_BROKERS=" + strings.Join(brokers, ","), "AUTH_PUBLIC_KEY_FILE=" + key,
		"AUTH_ISSUER=rapport-dev", "AUTH_AUDIENCE=rapport", "HTTP_ADDR=" + addr, "LOG_LEVEL=warn"}, env...), base+"/readyz")
	resp, err := http.Get(base + "/v1/" + name + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: %s serves no OpenAPI document: %d %v", name, resp.StatusCode, err)
	}
	ValidateWith(doc)
	return p
}
