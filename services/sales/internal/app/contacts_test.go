package app_test

import (
	"fmt"
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/devauth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// runContacts runs the real contacts service as its own program, on a
// database of its own and the given broker, trusting the issuer's tokens;
// it is stopped with SIGTERM when the test ends. Its replies are held to
// its own document, which it serves.
func runContacts(t testing.TB, brokers []string, issuer *devauth.Issuer) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1))
	// Contacts asks sales only about a deal an activity names, which no
	// test here logs: its SALES_URL is a port nothing listens on.
	testenv.StartService(t, "contacts", addr, brokers, issuer.PublicKeyPEM(), "SALES_URL=http://127.0.0.1:9")
	return "http://" + addr
}
