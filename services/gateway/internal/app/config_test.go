package app_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/services/gateway/internal/app"
	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
)

func TestConfigFromEnv(t *testing.T) {
	valid := map[string]string{
		"GATEWAY_ADDR":         "",
		"CONTACTS_URL":         "http://127.0.0.1:8081",
		"SALES_URL":            "http://127.0.0.1:8082",
		"KAFKA_BROKERS":        "127.0.0.1:9092, 127.0.0.1:9093",
		"AUTH_JWKS_URL":        "http://127.0.0.1:1/.well-known/jwks.json",
		"AUTH_PUBLIC_KEY_FILE": "",
		"AUTH_ISSUER":          "rapport-dev",
		"AUTH_AUDIENCE":        "rapport",
		"GATEWAY_DEFAULT_RPS":  "",
		"GATEWAY_BURST":        "",
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
				t.Setenv(app.UpstreamVar(name), "http://127.0.0.1:8081")
			}
			t.Setenv(app.UpstreamVar(missing), "")
			_, err := app.ConfigFromEnv()
			want := app.UpstreamVar(missing) + " is required (the " + missing + " service's base URL, e.g. http://127.0.0.1:8081)"
			if err == nil || err.Error() != want {
				t.Fatalf("want %q, have %v", want, err)
			}
		})
	}
}

func TestUpstreamVar(t *testing.T) {
	for upstream, want := range map[string]string{"contacts": "CONTACTS_URL", "sales": "SALES_URL", "lead-scoring": "LEAD_SCORING_URL"} {
		if have := app.UpstreamVar(upstream); have != want {
			t.Errorf("%s: want %s, have %s", upstream, want, have)
		}
	}
}
