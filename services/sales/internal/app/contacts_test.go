package app_test

import (
	"bytes"
	"fmt"
	"io"
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

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/testenv"
)

var (
	contactsOnce sync.Once
	contactsBin  string
	contactsErr  error
)

// runContacts builds (once per test binary) and runs the real contacts
// service as its own program, on a database of its own and the given
// broker, trusting the issuer's tokens; it is stopped with SIGTERM when the
// test ends.
func runContacts(t testing.TB, brokers []string, issuer *auth.DevIssuer) string {
	t.Helper()
	contactsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rapport-contacts-*")
		if err != nil {
			contactsErr = err
			return
		}
		contactsBin = filepath.Join(dir, "contacts")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", contactsBin, "./services/contacts/cmd/contacts")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			contactsErr = fmt.Errorf("build contacts: %v\n%s", err, out)
		}
	})
	if contactsErr != nil {
		t.Fatal(contactsErr)
	}
	db := testenv.NewDatabase(t)
	key := filepath.Join(t.TempDir(), "issuer.pub.pem")
	if err := os.WriteFile(key, issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1))
	cmd := exec.Command(contactsBin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL, "MIGRATE_DATABASE_URL="+db.OwnerURL, "DATABASE_APP_ROLE="+db.AppRole,
		"KAFKA_BROKERS="+strings.Join(brokers, ","), "AUTH_PUBLIC_KEY_FILE="+key, "AUTH_ISSUER=rapport-dev", "AUTH_AUDIENCE=rapport",
		"HTTP_ADDR="+addr, "LOG_LEVEL=warn")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("contacts exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Its replies are held to its own document, which it serves.
				testenv.ValidateWith(document(t, base+"/v1/contacts/openapi.json"))
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("contacts not ready after a minute:\n%s", logs.String())
		}
	}
}

// document reads an OpenAPI document a service serves.
func document(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return raw
}

// lockedBuffer keeps a program's output while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
