// Package app wires the sales service: configuration, storage, Kafka
// actors (outbox relay, tenancy applier, the contacts projection) and the
// HTTP stack. main only reads the environment and runs it; tests build it
// on real components.
package app

import (
	"net/url"

	"github.com/rapportcrm/rapport/pkg/servicekit"
)

// Config is everything the service needs from its environment.
type Config struct {
	servicekit.Config
	// ContactsURL is the contacts service's base URL, asked about contacts
	// the projection does not know yet and by quick deals; nil leaves both out.
	ContactsURL *url.URL
}

// ConfigFromEnv reads the configuration, naming the first missing variable.
func ConfigFromEnv() (Config, error) {
	base, err := servicekit.ConfigFromEnv("127.0.0.1:8082")
	cfg := Config{Config: base}
	if err != nil {
		return cfg, err
	}
	cfg.ContactsURL, err = base.Peer("contacts")
	return cfg, err
}
