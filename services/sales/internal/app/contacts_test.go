package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/testenv"
)

// runContacts runs the real contacts service as its own program, on a
// database of its own and the given broker, trusting the issuer's tokens;
// it is stopped with SIGTERM when the test ends.
func runContacts(t testing.TB, brokers []string, issuer *auth.DevIssuer) string {
	t.Helper()
	bin := testenv.BuildProgram(t, "contacts")
	db := testenv.NewDatabase(t)
	key := filepath.Join(t.TempDir(), "issuer.pub.pem")
	if err := os.WriteFile(key, issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1))
	base := "http://" + addr
	testenv.StartProgram(t, bin, []string{"DATABASE_URL=" + db.AppURL, "MIGRATE_DATABASE_URL=" + db.OwnerURL,
		"DATABASE_APP_ROLE=" + db.AppRole, "KAFKA_BROKERS=" + strings.Join(brokers, ","), "AUTH_PUBLIC_KEY_FILE=" + key,
		"AUTH_ISSUER=rapport-dev", "AUTH_AUDIENCE=rapport", "HTTP_ADDR=" + addr, "LOG_LEVEL=warn"}, base+"/readyz")
	// Its replies are held to its own document, which it serves.
	testenv.ValidateWith(document(t, base+"/v1/contacts/openapi.json"))
	return base
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
