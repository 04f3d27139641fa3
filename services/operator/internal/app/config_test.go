package app_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/services/operator/internal/app"
)

func TestConfigFromEnv(t *testing.T) {
	good := map[string]string{"RAPPORT_REGION": "ru-central-1", "KAFKA_BROKERS": "kafka-0:9092, kafka-1:9092", "POD_NAMESPACE": "rapport-system"}
	set := func(env map[string]string) {
		for _, k := range []string{"RAPPORT_REGION", "KAFKA_BROKERS", "POD_NAMESPACE", "TENANT_REQUIRED_SERVICES", "TENANT_NAMESPACE_PREFIX", "LEADER_ELECT", "RECONCILE_WORKERS"} {
			t.Setenv(k, env[k])
		}
	}
	set(good)
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Brokers, []string{"kafka-0:9092", "kafka-1:9092"}) || !slices.Equal(cfg.Services, app.DefaultServices) ||
		cfg.NamespacePrefix != "tenant-" || !cfg.LeaderElect || cfg.Workers != 16 || cfg.HealthAddr != ":8081" {
		t.Fatalf("config: %+v", cfg)
	}
	for name, tc := range map[string]struct {
		change map[string]string
		want   string
	}{
		"no region":    {map[string]string{"RAPPORT_REGION": ""}, "RAPPORT_REGION"},
		"bad region":   {map[string]string{"RAPPORT_REGION": "RU Central"}, "RAPPORT_REGION"},
		"no brokers":   {map[string]string{"KAFKA_BROKERS": " , "}, "KAFKA_BROKERS"},
		"no lease ns":  {map[string]string{"POD_NAMESPACE": ""}, "POD_NAMESPACE"},
		"bad election": {map[string]string{"LEADER_ELECT": "maybe"}, "LEADER_ELECT"},
		"bad workers":  {map[string]string{"RECONCILE_WORKERS": "0"}, "RECONCILE_WORKERS"},
		"long prefix":  {map[string]string{"TENANT_NAMESPACE_PREFIX": "department-"}, "TENANT_NAMESPACE_PREFIX"},
		"bad prefix":   {map[string]string{"TENANT_NAMESPACE_PREFIX": "T_"}, "TENANT_NAMESPACE_PREFIX"},
		"bad service":  {map[string]string{"TENANT_REQUIRED_SERVICES": "contacts,Sales!"}, "TENANT_REQUIRED_SERVICES"},
	} {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		for k, v := range tc.change {
			env[k] = v
		}
		set(env)
		if _, err := app.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: have %v, want an error naming %s", name, err, tc.want)
		}
	}
	// Without leader election no Lease namespace is needed; services are configurable.
	env := map[string]string{"RAPPORT_REGION": "eu-west-1", "KAFKA_BROKERS": "k:9092", "LEADER_ELECT": "false", "TENANT_REQUIRED_SERVICES": "contacts, sales"}
	set(env)
	if cfg, err := app.ConfigFromEnv(); err != nil || cfg.LeaderElect || !slices.Equal(cfg.Services, []string{"contacts", "sales"}) {
		t.Fatalf("%+v %v", cfg, err)
	}
}
