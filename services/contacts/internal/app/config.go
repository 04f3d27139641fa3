// Package app wires the contacts service: configuration, storage, Kafka
// actors (outbox relay, tenancy applier, timeline consumer, imports) and
// the HTTP stack. main only reads the environment and runs it; tests build
// it on real components.
package app

import (
	"net/url"

	"github.com/rapportcrm/rapport/pkg/servicekit"
)

// Config is everything the service needs from its environment.
type Config struct {
	servicekit.Config
	// SalesURL is the sales service's base URL, asked whether the user may
	// see a deal an activity names.
	SalesURL *url.URL
}

// ConfigFromEnv reads the configuration, naming the first missing variable.
func ConfigFromEnv() (Config, error) {
	base, err := servicekit.ConfigFromEnv("127.0.0.1:8081")
	cfg := Config{Config: base}
	if err != nil {
		return cfg, err
	}
	cfg.SalesURL, err = base.Peer("sales")
	return cfg, err
}
