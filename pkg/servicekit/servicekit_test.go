package servicekit

import (
	"strings"
	"testing"
)

func TestConfigFromEnvNamesWhatIsMissing(t *testing.T) {
	set := func(env map[string]string) {
		for _, k := range []string{"HTTP_ADDR", "DATABASE_URL", "MIGRATE_DATABASE_URL", "DATABASE_APP_ROLE", "KAFKA_BROKERS",
			"AUTH_PUBLIC_KEY_FILE", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "OPS_ADDR"} {
			t.Setenv(k, env[k])
		}
	}
	full := map[string]string{"DATABASE_URL": "postgres://app@h/db", "MIGRATE_DATABASE_URL": "postgres://owner@h/db",
		"DATABASE_APP_ROLE": "app", "KAFKA_BROKERS": "b1:9092,b2:9092", "AUTH_JWKS_URL": "http://idp/jwks"}
	for _, tc := range []struct {
		drop, want string
	}{
		{"DATABASE_URL", "DATABASE_URL is required"},
		{"DATABASE_APP_ROLE", "DATABASE_APP_ROLE is required"},
		{"KAFKA_BROKERS", "KAFKA_BROKERS is required"},
	} {
		env := map[string]string{}
		for k, v := range full {
			if k != tc.drop {
				env[k] = v
			}
		}
		set(env)
		if _, err := ConfigFromEnv("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("without %s: %v", tc.drop, err)
		}
	}
	set(full)
	cfg, err := ConfigFromEnv("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:1" || len(cfg.Brokers) != 2 || cfg.Brokers[1] != "b2:9092" || cfg.AppRole != "app" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.OpsAddr != "127.0.0.1:1001" {
		t.Errorf("the ops address follows the API port by default: have %q", cfg.OpsAddr)
	}
	full["HTTP_ADDR"] = "0.0.0.0:9"
	set(full)
	if cfg, _ := ConfigFromEnv("127.0.0.1:1"); cfg.HTTPAddr != "0.0.0.0:9" || cfg.OpsAddr != "0.0.0.0:1009" {
		t.Errorf("HTTP_ADDR ignored: %q (ops %q)", cfg.HTTPAddr, cfg.OpsAddr)
	}
	full["OPS_ADDR"] = "127.0.0.1:9090"
	set(full)
	if cfg, _ := ConfigFromEnv("127.0.0.1:1"); cfg.OpsAddr != "127.0.0.1:9090" {
		t.Errorf("OPS_ADDR ignored: %q", cfg.OpsAddr)
	}
	full["OPS_ADDR"] = "9090"
	set(full)
	if _, err := ConfigFromEnv("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "OPS_ADDR") {
		t.Errorf("a bad OPS_ADDR: %v", err)
	}
}

// A release's migration Job needs the migration role and nothing else:
// no app URL, no brokers, no token verification.
func TestConfigFromEnvInMigrateOnlyMode(t *testing.T) {
	for _, k := range []string{"HTTP_ADDR", "DATABASE_URL", "MIGRATE_DATABASE_URL", "DATABASE_APP_ROLE", "KAFKA_BROKERS",
		"AUTH_PUBLIC_KEY_FILE", "AUTH_JWKS_URL", "OPS_ADDR", "MIGRATE_ONLY"} {
		t.Setenv(k, "")
	}
	t.Setenv("MIGRATE_ONLY", "true")
	if _, err := ConfigFromEnv("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL is required with MIGRATE_ONLY") {
		t.Errorf("without the migration URL: %v", err)
	}
	t.Setenv("MIGRATE_DATABASE_URL", "postgres://owner@h/db")
	if _, err := ConfigFromEnv("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "DATABASE_APP_ROLE is required with MIGRATE_ONLY") {
		t.Errorf("without the app role: %v", err)
	}
	t.Setenv("DATABASE_APP_ROLE", "rapport_contacts")
	cfg, err := ConfigFromEnv("127.0.0.1:1")
	if err != nil || !cfg.MigrateOnly || cfg.AppRole != "rapport_contacts" {
		t.Fatalf("migrate-only config: %+v, %v", cfg, err)
	}
	t.Setenv("MIGRATE_ONLY", "yes please")
	if _, err := ConfigFromEnv("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "MIGRATE_ONLY must be true or false") {
		t.Errorf("a MIGRATE_ONLY that is no boolean: %v", err)
	}
}

func TestPeersAreNotRequiredToMigrate(t *testing.T) {
	t.Setenv("SALES_URL", "")
	if u, err := (Config{MigrateOnly: true}).Peer("sales"); u != nil || err != nil {
		t.Errorf("migrate-only: %v, %v", u, err)
	}
	if _, err := (Config{}).Peer("sales"); err == nil || !strings.Contains(err.Error(), "SALES_URL is required") {
		t.Errorf("a service without its peer's URL: %v", err)
	}
	t.Setenv("SALES_URL", "http://sales:8082")
	if u, err := (Config{}).Peer("sales"); err != nil || u.Host != "sales:8082" {
		t.Errorf("a peer: %v, %v", u, err)
	}
}
