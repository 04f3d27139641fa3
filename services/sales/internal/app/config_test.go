package app

import (
	"strings"
	"testing"
)

func TestConfigNeedsTheContactsServicesURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app@h/db")
	t.Setenv("KAFKA_BROKERS", "b:9092")
	t.Setenv("AUTH_JWKS_URL", "http://idp/jwks")
	for _, bad := range []string{"", "127.0.0.1:8081", "ftp://h", "http://"} {
		t.Setenv("CONTACTS_URL", bad)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "CONTACTS_URL") {
			t.Errorf("CONTACTS_URL=%q: %v", bad, err)
		}
	}
	t.Setenv("CONTACTS_URL", "http://127.0.0.1:8081")
	cfg, err := ConfigFromEnv()
	if err != nil || cfg.ContactsURL.Host != "127.0.0.1:8081" || cfg.HTTPAddr != "127.0.0.1:8082" {
		t.Fatalf("%+v %v", cfg, err)
	}
}
