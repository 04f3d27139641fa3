package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
)

func TestDiscoverServicesSkipsOperatorAndSorts(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{
		"services/tasks/cmd/tasks",
		"services/operator/cmd/operator",
		"services/contacts/cmd/contacts",
		"services/gateway/cmd/gateway",
	} {
		mustWrite(t, filepath.Join(root, dir, "main.go"), "package main\n")
	}
	mustWrite(t, filepath.Join(root, "services/half-done/internal/x.go"), "package x\n")
	mustWrite(t, filepath.Join(root, "services/README.md"), "not a service\n")

	have, err := discoverServices(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"contacts", "gateway", "tasks"}
	if !slices.Equal(have, want) {
		t.Fatalf("have %v, want %v", have, want)
	}
}

func TestPlanKeepsPortsStableAsServicesAreAdded(t *testing.T) {
	// Services the catalogue does not know (yet) come after those it does.
	next := 8081 + len(catalog.Services)
	for _, tc := range []struct {
		names []string
		want  map[string]int
	}{
		{[]string{"contacts", "gateway"}, map[string]int{"contacts": 8081, "gateway": 8080}},
		{[]string{"billing", "contacts", "gateway", "sales", "zebra"},
			map[string]int{"billing": next, "zebra": next + 1, "contacts": 8081, "gateway": 8080, "sales": 8082}},
	} {
		domain, gw := plan(tc.names, 8080, 8081)
		have := map[string]int{}
		var order []string
		for _, s := range domain {
			have[s.Name] = s.Port
			order = append(order, s.Name)
		}
		if gw != nil {
			have[gw.Name] = gw.Port
		}
		if !maps.Equal(have, tc.want) {
			t.Errorf("%v: have ports %v, want %v", tc.names, have, tc.want)
		}
		if !slices.IsSorted(order) {
			t.Errorf("%v: domain services start in order %v, want sorted", tc.names, order)
		}
	}
}

func TestDomainEnvPassesOTELThroughAndNamesTheService(t *testing.T) {
	caller := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318",
		"OTEL_RESOURCE_ATTRIBUTES=deployment.environment=dev",
		"OTEL_SERVICE_NAME=caller",
		"PATH=/usr/bin",
		"DATABASE_URL=postgres://someone-else",
		"SECRET_TOKEN=do-not-leak",
		"AUTH_MAX_TOKEN_LIFETIME=2h",
	}
	db := pgcluster.Database{Name: "contacts", OwnerURL: "postgres://contacts_owner@h/contacts",
		AppURL: "postgres://contacts_app@h/contacts", AppRole: "contacts_app"}
	sh := shared{Brokers: []string{"127.0.0.1:9092"}, PublicKeyFile: "/d/auth/dev-issuer.pub.pem", Caller: caller}

	peers := []service{{Name: "contacts", Port: 8081}, {Name: "sales", Port: 8082}}
	have := envMap(domainEnv(peers[0], db, sh, peers))
	want := map[string]string{
		"HTTP_ADDR":                   "127.0.0.1:8081",
		"OPS_ADDR":                    "127.0.0.1:9081",
		"AUTH_MAX_TOKEN_LIFETIME":     "2h",
		"DATABASE_URL":                db.AppURL,
		"MIGRATE_DATABASE_URL":        db.OwnerURL,
		"DATABASE_APP_ROLE":           "contacts_app",
		"KAFKA_BROKERS":               "127.0.0.1:9092",
		"AUTH_PUBLIC_KEY_FILE":        "/d/auth/dev-issuer.pub.pem",
		"AUTH_ISSUER":                 "rapport-dev",
		"AUTH_AUDIENCE":               "rapport",
		"OTEL_SERVICE_NAME":           "contacts",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment=dev",
		"PATH":                        "/usr/bin",
		"SALES_URL":                   "http://127.0.0.1:8082",
	}
	if !maps.Equal(have, want) {
		t.Fatalf("have env\n%v\nwant\n%v", have, want)
	}
}

func TestGatewayEnvNamesEveryDomainService(t *testing.T) {
	sh := shared{Brokers: []string{"b1:9092", "b2:9092"}, PublicKeyFile: "/k.pem", SigninURL: "http://127.0.0.1:1/token", SessionKeys: "c2Vzc2lvbg==",
		Caller: []string{"OTEL_TRACES_SAMPLER=always_on", "GATEWAY_BURST=50", "GATEWAY_ADDR=0.0.0.0:1"}}
	domain := []service{{Name: "contacts", Port: 8081}, {Name: "sales", Port: 8082}}

	have := envMap(gatewayEnv(service{Name: "gateway", Port: 8080}, domain, sh))
	want := map[string]string{
		"GATEWAY_ADDR":         "127.0.0.1:8080",
		"OPS_ADDR":             "127.0.0.1:9080",
		"GATEWAY_BURST":        "50",
		"CONTACTS_URL":         "http://127.0.0.1:8081",
		"SALES_URL":            "http://127.0.0.1:8082",
		"KAFKA_BROKERS":        "b1:9092,b2:9092",
		"AUTH_PUBLIC_KEY_FILE": "/k.pem",
		"AUTH_ISSUER":          "rapport-dev",
		"AUTH_AUDIENCE":        "rapport",
		"OTEL_SERVICE_NAME":    "gateway",
		"OTEL_TRACES_SAMPLER":  "always_on",
		"WEB_PUBLIC_URL":       "http://127.0.0.1:8080",
		"WEB_DEV_SIGNIN_URL":   "http://127.0.0.1:1/token",
		"WEB_SESSION_KEYS":     "c2Vzc2lvbg==",
	}
	if !maps.Equal(have, want) {
		t.Fatalf("have env\n%v\nwant\n%v", have, want)
	}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
