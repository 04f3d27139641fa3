// Package app wires the gateway: configuration, the tenant directory kept
// from Kafka, and the HTTP stack (auth, tenant admission, rate limits,
// routing to the services). main only reads the environment and runs it;
// tests build it on real components.
package app

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/ops"
	"github.com/rapportcrm/rapport/services/gateway/internal/bff"
	"github.com/rapportcrm/rapport/services/gateway/internal/ratelimit"
	"github.com/rapportcrm/rapport/services/gateway/internal/routing"
)

// Config is everything the gateway needs from its environment.
type Config struct {
	Addr string
	// OpsAddr serves /metrics, /healthz and /readyz apart from the API.
	OpsAddr string
	// Upstreams are the services' base URLs by name, e.g. "contacts": one
	// for every upstream of routing.Default.
	Upstreams map[string]*url.URL
	Brokers   []string
	Auth      auth.Config
	// DefaultRPS applies to tenants whose record sets no requests-per-second quota.
	DefaultRPS float64
	// Burst is the bucket size at DefaultRPS; quotas keep the same ratio.
	Burst int
	// UnauthRPS and UnauthBurst limit, per client address, requests that
	// fail authentication; over it they are refused before any verification.
	UnauthRPS   float64
	UnauthBurst int
	// TrustedProxies may name the client in X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// Web is how people sign in to the web application.
	Web bff.Config
}

// ConfigFromEnv reads the configuration, naming the first missing or
// malformed variable.
func ConfigFromEnv() (Config, error) {
	cfg := Config{Addr: env("GATEWAY_ADDR", "127.0.0.1:8080"), Upstreams: map[string]*url.URL{}}
	for _, name := range routing.Default.Upstreams() {
		u, err := httpkit.PeerURLFromEnv(name)
		if err != nil {
			return cfg, err
		}
		cfg.Upstreams[name] = u
	}
	var err error
	if cfg.Brokers, err = brokers("KAFKA_BROKERS"); err != nil {
		return cfg, err
	}
	if cfg.Auth, err = auth.ConfigFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.DefaultRPS, err = rate("GATEWAY_DEFAULT_RPS", 50, "requests per second"); err != nil {
		return cfg, err
	}
	if cfg.Burst, err = burst("GATEWAY_BURST", max(1, int(2*cfg.DefaultRPS))); err != nil {
		return cfg, err
	}
	if cfg.UnauthRPS, err = rate("GATEWAY_UNAUTH_RPS", 10, "failed requests per second per client address"); err != nil {
		return cfg, err
	}
	if cfg.UnauthBurst, err = burst("GATEWAY_UNAUTH_BURST", 50); err != nil {
		return cfg, err
	}
	if cfg.TrustedProxies, err = ratelimit.ParsePrefixes(os.Getenv("GATEWAY_TRUSTED_PROXIES")); err != nil {
		return cfg, fmt.Errorf("GATEWAY_TRUSTED_PROXIES must be comma-separated CIDRs or addresses such as 10.0.0.0/8,192.168.1.10: %w", err)
	}
	if cfg.Web, err = bff.ConfigFromEnv(cfg.Auth); err != nil {
		return cfg, err
	}
	if cfg.OpsAddr, err = ops.AddrFromEnv(cfg.Addr); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// rate reads a positive rate of unit from the variable name, def when unset.
func rate(name string, def float64, unit string) (float64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || !(r > 0) || r > 1e9 {
		return 0, fmt.Errorf("%s must be a positive number of %s, got %q", name, unit, v)
	}
	return r, nil
}

// burst reads a positive whole number of requests from the variable name,
// def when unset.
func burst(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.Atoi(v)
	if err != nil || b < 1 {
		return 0, fmt.Errorf("%s must be a positive whole number of requests, got %q", name, v)
	}
	return b, nil
}

func brokers(name string) ([]string, error) {
	v := os.Getenv(name)
	if v == "" {
		return nil, fmt.Errorf("%s is required (comma-separated host:port)", name)
	}
	var out []string
	for b := range strings.SplitSeq(v, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			return nil, fmt.Errorf("%s has an empty entry: %q", name, v)
		}
		out = append(out, b)
	}
	return out, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
