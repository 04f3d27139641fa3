// Package app assembles the Tenant operator: a controller-runtime manager
// with the Tenant reconciler, the follower of the services'
// acknowledgements, leader election, metrics, health probes and traces.
package app

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/pkg/catalog"
)

// Config is the operator's configuration, from the environment in production.
type Config struct {
	// Region this installation serves (RAPPORT_REGION); other regions'
	// tenants are left unprovisioned with reason RegionMismatch.
	Region string
	// Brokers of Kafka (KAFKA_BROKERS, comma-separated).
	Brokers []string
	// Services that must acknowledge a generation before a tenant is Ready
	// (TENANT_REQUIRED_SERVICES, comma-separated).
	Services []string
	// NamespacePrefix names tenant namespaces (TENANT_NAMESPACE_PREFIX, default "tenant-").
	NamespacePrefix string
	// MetricsAddr serves Prometheus metrics (METRICS_ADDR, default :8080; "0" disables).
	MetricsAddr string
	// HealthAddr serves /healthz and /readyz (HEALTH_ADDR, default :8081).
	HealthAddr string
	// LeaderElect makes replicas elect one active reconciler (LEADER_ELECT, default true).
	LeaderElect bool
	// LeaderElectionNamespace holds the Lease (POD_NAMESPACE).
	LeaderElectionNamespace string
	// Workers reconcile tenants in parallel (RECONCILE_WORKERS, default 16).
	Workers int
	// SkipNameValidation lets tests run several managers in one process
	// (controller names are otherwise unique per process).
	SkipNameValidation bool
}

// DefaultServices are the services a tenant waits for unless told
// otherwise: the catalogue's. Naming services that do not exist would leave
// every tenant short of Ready.
var DefaultServices = catalog.Acknowledging()

var (
	regionRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	prefixRE = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)
)

// ConfigFromEnv reads the environment; errors name the variable at fault.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		Region:                  strings.TrimSpace(os.Getenv("RAPPORT_REGION")),
		Brokers:                 list(os.Getenv("KAFKA_BROKERS")),
		Services:                list(os.Getenv("TENANT_REQUIRED_SERVICES")),
		NamespacePrefix:         envOr("TENANT_NAMESPACE_PREFIX", "tenant-"),
		MetricsAddr:             envOr("METRICS_ADDR", ":8080"),
		HealthAddr:              envOr("HEALTH_ADDR", ":8081"),
		LeaderElect:             true,
		LeaderElectionNamespace: strings.TrimSpace(os.Getenv("POD_NAMESPACE")),
		Workers:                 16,
	}
	if len(cfg.Services) == 0 {
		cfg.Services = DefaultServices
	}
	if v := strings.TrimSpace(os.Getenv("LEADER_ELECT")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("LEADER_ELECT must be true or false, got %q", v)
		}
		cfg.LeaderElect = b
	}
	if v := strings.TrimSpace(os.Getenv("RECONCILE_WORKERS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("RECONCILE_WORKERS must be a positive number, got %q", v)
		}
		cfg.Workers = n
	}
	return cfg, cfg.Validate()
}

// Validate reports the first thing wrong with cfg.
func (c Config) Validate() error {
	switch {
	case c.Region == "":
		return errors.New("RAPPORT_REGION must name the region this installation serves, e.g. ru-central-1")
	case !regionRE.MatchString(c.Region):
		return fmt.Errorf("RAPPORT_REGION %q is not a region name (lower-case words joined by '-', e.g. ru-central-1)", c.Region)
	case len(c.Brokers) == 0:
		return errors.New("KAFKA_BROKERS must list the Kafka brokers, e.g. kafka-0:9092,kafka-1:9092")
	case c.LeaderElect && c.LeaderElectionNamespace == "":
		return errors.New("POD_NAMESPACE must name the namespace of the leader-election Lease (or set LEADER_ELECT=false)")
	case len(c.NamespacePrefix) > 7 || !prefixRE.MatchString(c.NamespacePrefix):
		// Tenant names are DNS labels of at most 56 characters (the CRD's
		// rule): with the prefix they must still make a namespace name.
		return fmt.Errorf("TENANT_NAMESPACE_PREFIX %q must be at most 7 characters of a-z, 0-9 and '-', starting with a letter", c.NamespacePrefix)
	}
	for _, s := range c.Services {
		if !regionRE.MatchString(s) {
			return fmt.Errorf("TENANT_REQUIRED_SERVICES: %q is not a service name", s)
		}
	}
	return nil
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
