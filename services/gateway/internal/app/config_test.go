package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/gateway/internal/app"
	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
)

// key32 is a valid WEB_SESSION_KEYS value.
const key32 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// oidc is a valid web sign-in configuration with over's changes.
func oidc(over map[string]string) map[string]string {
	env := map[string]string{"WEB_OIDC_ISSUER": "https://login.example.com", "WEB_OIDC_CLIENT_ID": "rapport",
		"WEB_PUBLIC_URL": "https://crm.example.com", "WEB_SESSION_KEYS": key32}
	for k, v := range over {
		env[k] = v
	}
	return env
}

func TestConfigFromEnv(t *testing.T) {
	valid := upstreamURLs()
	for k, v := range map[string]string{
		"GATEWAY_ADDR":            "",
		"KAFKA_BROKERS":           "127.0.0.1:9092, 127.0.0.1:9093",
		"AUTH_JWKS_URL":           "http://127.0.0.1:1/.well-known/jwks.json",
		"AUTH_PUBLIC_KEY_FILE":    "",
		"AUTH_ISSUER":             "rapport-dev",
		"AUTH_AUDIENCE":           "rapport",
		"GATEWAY_DEFAULT_RPS":     "",
		"GATEWAY_BURST":           "",
		"GATEWAY_UNAUTH_RPS":      "",
		"GATEWAY_UNAUTH_BURST":    "",
		"GATEWAY_TRUSTED_PROXIES": "",
		"OPS_ADDR":                "",
		"WEB_OIDC_ISSUER":         "",
		"WEB_OIDC_CLIENT_ID":      "",
		"WEB_OIDC_CLIENT_SECRET":  "",
		"WEB_OIDC_SCOPES":         "",
		"WEB_PUBLIC_URL":          "",
		"WEB_SESSION_KEYS":        "",
		"WEB_SESSION_TTL":         "",
		"WEB_DEV_SIGNIN_URL":      "",
	} {
		valid[k] = v
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // the variable the error must name
	}{
		{name: "defaults"},
		{name: "no contacts url", env: map[string]string{"CONTACTS_URL": ""}, wantErr: "CONTACTS_URL"},
		{name: "relative contacts url", env: map[string]string{"CONTACTS_URL": "contacts:8081"}, wantErr: "CONTACTS_URL"},
		{name: "no sales url", env: map[string]string{"SALES_URL": ""}, wantErr: "SALES_URL"},
		{name: "sales url with a query", env: map[string]string{"SALES_URL": "http://127.0.0.1:8082?x=1"}, wantErr: "SALES_URL"},
		{name: "no brokers", env: map[string]string{"KAFKA_BROKERS": ""}, wantErr: "KAFKA_BROKERS"},
		{name: "empty broker", env: map[string]string{"KAFKA_BROKERS": "a:1,,b:2"}, wantErr: "KAFKA_BROKERS"},
		{name: "rps not a number", env: map[string]string{"GATEWAY_DEFAULT_RPS": "fast"}, wantErr: "GATEWAY_DEFAULT_RPS"},
		{name: "rps zero", env: map[string]string{"GATEWAY_DEFAULT_RPS": "0"}, wantErr: "GATEWAY_DEFAULT_RPS"},
		{name: "burst zero", env: map[string]string{"GATEWAY_BURST": "0"}, wantErr: "GATEWAY_BURST"},
		{name: "burst fraction", env: map[string]string{"GATEWAY_BURST": "1.5"}, wantErr: "GATEWAY_BURST"},
		{name: "unauthenticated rps zero", env: map[string]string{"GATEWAY_UNAUTH_RPS": "0"}, wantErr: "GATEWAY_UNAUTH_RPS"},
		{name: "unauthenticated rps not a number", env: map[string]string{"GATEWAY_UNAUTH_RPS": "ten"}, wantErr: "GATEWAY_UNAUTH_RPS"},
		{name: "unauthenticated burst negative", env: map[string]string{"GATEWAY_UNAUTH_BURST": "-3"}, wantErr: "GATEWAY_UNAUTH_BURST"},
		{name: "trusted proxy not a CIDR", env: map[string]string{"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, wantErr: "GATEWAY_TRUSTED_PROXIES"},
		{name: "trusted proxy with a bad mask", env: map[string]string{"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/33"}, wantErr: "GATEWAY_TRUSTED_PROXIES"},
		{name: "ops address without a port", env: map[string]string{"OPS_ADDR": "127.0.0.1"}, wantErr: "OPS_ADDR"},
		{name: "web sign-in", env: oidc(nil)},
		{name: "web sign-in without session keys", env: oidc(map[string]string{"WEB_SESSION_KEYS": ""}), wantErr: "WEB_SESSION_KEYS"},
		{name: "web session key too short", env: oidc(map[string]string{"WEB_SESSION_KEYS": "c2hvcnQ="}), wantErr: "WEB_SESSION_KEYS"},
		{name: "web sign-in without client", env: oidc(map[string]string{"WEB_OIDC_CLIENT_ID": ""}), wantErr: "WEB_OIDC_CLIENT_ID"},
		{name: "web sign-in without public url", env: oidc(map[string]string{"WEB_PUBLIC_URL": ""}), wantErr: "WEB_PUBLIC_URL"},
		{name: "web public url over plain http", env: oidc(map[string]string{"WEB_PUBLIC_URL": "http://crm.example.com"}), wantErr: "WEB_PUBLIC_URL"},
		{name: "web public url with a path", env: oidc(map[string]string{"WEB_PUBLIC_URL": "https://crm.example.com/app"}), wantErr: "WEB_PUBLIC_URL"},
		{name: "web issuer not a url", env: oidc(map[string]string{"WEB_OIDC_ISSUER": "login"}), wantErr: "WEB_OIDC_ISSUER"},
		{name: "web issuer over plain http", env: oidc(map[string]string{"WEB_OIDC_ISSUER": "http://login.example.com"}), wantErr: "WEB_OIDC_ISSUER"},
		{name: "web issuer over http on loopback", env: oidc(map[string]string{"WEB_OIDC_ISSUER": "http://127.0.0.1:5556"})},
		{name: "web session ttl", env: oidc(map[string]string{"WEB_SESSION_TTL": "forever"}), wantErr: "WEB_SESSION_TTL"},
		{name: "dev sign-in", env: map[string]string{"WEB_DEV_SIGNIN_URL": "http://127.0.0.1:4000/token", "WEB_SESSION_KEYS": key32}},
		{name: "dev sign-in beside a real issuer", env: map[string]string{"WEB_DEV_SIGNIN_URL": "http://127.0.0.1:4000/token", "WEB_SESSION_KEYS": key32,
			"AUTH_ISSUER": "https://login.example.com"}, wantErr: "WEB_DEV_SIGNIN_URL"},
		{name: "dev sign-in elsewhere", env: map[string]string{"WEB_DEV_SIGNIN_URL": "http://signer.example.com/token", "WEB_SESSION_KEYS": key32}, wantErr: "WEB_DEV_SIGNIN_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range valid {
				t.Setenv(k, v)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := app.ConfigFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want an error naming %s, have %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != "127.0.0.1:8080" || cfg.DefaultRPS != 50 || cfg.Burst != 100 {
				t.Errorf("defaults: have addr %q rps %g burst %d", cfg.Addr, cfg.DefaultRPS, cfg.Burst)
			}
			if cfg.OpsAddr != "127.0.0.1:9080" || cfg.UnauthRPS != 10 || cfg.UnauthBurst != 50 || len(cfg.TrustedProxies) != 0 {
				t.Errorf("defaults: have ops addr %q, unauthenticated rps %g burst %d, trusted proxies %v",
					cfg.OpsAddr, cfg.UnauthRPS, cfg.UnauthBurst, cfg.TrustedProxies)
			}
			if len(cfg.Brokers) != 2 || cfg.Brokers[1] != "127.0.0.1:9093" {
				t.Errorf("brokers: have %q", cfg.Brokers)
			}
			if cfg.Upstreams["contacts"].String() != "http://127.0.0.1:8081" {
				t.Errorf("contacts upstream: have %v", cfg.Upstreams["contacts"])
			}
			if cfg.Upstreams["sales"].String() != "http://127.0.0.1:8082" {
				t.Errorf("sales upstream: have %v", cfg.Upstreams["sales"])
			}
		})
	}
}

// Every upstream the routing table names needs its <NAME>_URL; a missing one
// stops start-up with a message naming it and showing what a value looks like.
func TestConfigReadsTheLimitsBeforeAuthenticationAndTheOpsAddress(t *testing.T) {
	for k, v := range upstreamURLs() {
		t.Setenv(k, v)
	}
	for k, v := range map[string]string{
		"KAFKA_BROKERS": "127.0.0.1:9092",
		"AUTH_JWKS_URL": "http://127.0.0.1:1/.well-known/jwks.json", "GATEWAY_ADDR": "0.0.0.0:8443",
		"GATEWAY_UNAUTH_RPS": "2.5", "GATEWAY_UNAUTH_BURST": "7", "GATEWAY_TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.10 ,2001:db8::/32",
		"OPS_ADDR": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UnauthRPS != 2.5 || cfg.UnauthBurst != 7 {
		t.Errorf("have unauthenticated rps %g burst %d", cfg.UnauthRPS, cfg.UnauthBurst)
	}
	var proxies []string
	for _, p := range cfg.TrustedProxies {
		proxies = append(proxies, p.String())
	}
	if want := []string{"10.0.0.0/8", "192.168.1.10/32", "2001:db8::/32"}; !slices.Equal(proxies, want) {
		t.Errorf("trusted proxies: want %v, have %v", want, proxies)
	}
	// The ops port follows the API port unless OPS_ADDR says otherwise.
	if cfg.OpsAddr != "0.0.0.0:9443" {
		t.Errorf("ops address: want 0.0.0.0:9443, have %q", cfg.OpsAddr)
	}
	t.Setenv("OPS_ADDR", "127.0.0.1:9090")
	if cfg, err := app.ConfigFromEnv(); err != nil || cfg.OpsAddr != "127.0.0.1:9090" {
		t.Errorf("OPS_ADDR: have %q, %v", cfg.OpsAddr, err)
	}
}

func TestConfigRequiresAURLForEveryRoutedUpstream(t *testing.T) {
	upstreams := routing.Default.Upstreams()
	if !slices.Contains(upstreams, "sales") {
		t.Fatalf("routing.Default names %v, want sales among them", upstreams)
	}
	for _, missing := range upstreams {
		t.Run(missing, func(t *testing.T) {
			t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
			t.Setenv("AUTH_JWKS_URL", "http://127.0.0.1:1/.well-known/jwks.json")
			for _, name := range upstreams {
				t.Setenv(httpkit.PeerVar(name), "http://127.0.0.1:8081")
			}
			t.Setenv(httpkit.PeerVar(missing), "")
			_, err := app.ConfigFromEnv()
			want := httpkit.PeerVar(missing) + " is required (the " + missing + " service's base URL, e.g. http://127.0.0.1:8081)"
			if err == nil || err.Error() != want {
				t.Fatalf("want %q, have %v", want, err)
			}
		})
	}
}

// upstreamURLs give every upstream of the routing table its <NAME>_URL,
// contacts on 8081, sales on 8082 and so on.
func upstreamURLs() map[string]string {
	env := map[string]string{}
	for i, name := range routing.Default.Upstreams() {
		env[httpkit.PeerVar(name)] = fmt.Sprintf("http://127.0.0.1:%d", 8081+i)
	}
	return env
}
