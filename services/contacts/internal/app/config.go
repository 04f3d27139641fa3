// Package app wires the contacts service: configuration, storage, Kafka
// actors (outbox relay, tenancy applier, timeline consumer, imports) and
// the HTTP stack. main only reads the environment and runs it; tests build
// it on real components.
package app

import "github.com/rapportcrm/rapport/pkg/servicekit"

// Config is everything the service needs from its environment.
type Config = servicekit.Config

// ConfigFromEnv reads the configuration, naming the first missing variable.
func ConfigFromEnv() (Config, error) { return servicekit.ConfigFromEnv("127.0.0.1:8081") }
