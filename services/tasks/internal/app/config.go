// Package app wires the tasks service: its storage, the platform's Kafka
// actors (outbox relay, tenancy applier) and its routes on the shared HTTP
// edge. main only reads the environment and runs it; tests build it on
// real components.
package app

import "github.com/rapportcrm/rapport/pkg/servicekit"

// Config is everything the service needs from its environment.
type Config struct {
	servicekit.Config
}

// ConfigFromEnv reads the configuration, naming the first missing variable.
func ConfigFromEnv() (Config, error) {
	base, err := servicekit.ConfigFromEnv("127.0.0.1:8083")
	return Config{Config: base}, err
}
