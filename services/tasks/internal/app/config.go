// Package app wires the tasks service: its storage, the platform's Kafka
// actors (outbox relay, tenancy applier), the projection of contacts and
// deals, and its routes on the shared HTTP edge. main only reads the
// environment and runs it; tests build it on real components.
package app

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/timers"
)

// Config is everything the service needs from its environment.
type Config struct {
	servicekit.Config
	// ContactsURL and SalesURL are the services asked about the contacts,
	// companies and deals a task names that the projection does not hold
	// yet; nil (both) asks nobody.
	ContactsURL, SalesURL *url.URL
	// Clock is the service's "now"; nil is the real clock (tests give
	// one they move). Due-time events keep to the real clock.
	Clock func() time.Time
	// Timers tune the due-time queue (zero: its defaults).
	Timers timers.Options
}

// ConfigFromEnv reads the configuration, naming the first missing variable.
func ConfigFromEnv() (Config, error) {
	base, err := servicekit.ConfigFromEnv("127.0.0.1:8083")
	cfg := Config{Config: base}
	if err != nil {
		return cfg, err
	}
	if cfg.ContactsURL, err = base.Peer("contacts"); err != nil {
		return cfg, err
	}
	if cfg.SalesURL, err = base.Peer("sales"); err != nil {
		return cfg, err
	}
	for name, d := range map[string]*time.Duration{"TIMERS_POLL": &cfg.Timers.Poll, "TIMERS_RESCUE": &cfg.Timers.Rescue} {
		if v := os.Getenv(name); v != "" {
			if *d, err = time.ParseDuration(v); err != nil || *d <= 0 {
				return cfg, fmt.Errorf("%s must be a positive duration such as 200ms or 30s, got %q", name, v)
			}
		}
	}
	return cfg, nil
}
