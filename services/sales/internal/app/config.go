// Package app wires the sales service: configuration, storage, Kafka
// actors (outbox relay, tenancy applier) and the HTTP stack. main only reads
// the environment and runs it; tests build it on real components.
package app

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// Config is everything the service needs from its environment.
type Config struct {
	HTTPAddr string
	// DatabaseURL connects as the app role, which owns no table.
	DatabaseURL string
	// MigrateDatabaseURL connects as the owner role; when set, the service
	// applies its migrations at start and grants AppRole row access.
	MigrateDatabaseURL string
	AppRole            string
	Brokers            []string
	Auth               auth.Config
	// ContactsURL is the contacts service's base URL, asked about contacts
	// the projection does not know yet and by quick deals; nil leaves both out.
	ContactsURL *url.URL
}

// ConfigFromEnv reads the configuration, naming the first missing variable.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		HTTPAddr:           env("HTTP_ADDR", "127.0.0.1:8082"),
		DatabaseURL:        os.Getenv("DATABASE_URL"),
		MigrateDatabaseURL: os.Getenv("MIGRATE_DATABASE_URL"),
		AppRole:            os.Getenv("DATABASE_APP_ROLE"),
	}
	if cfg.DatabaseURL == "" {
		return cfg, fmt.Errorf("DATABASE_URL is required (the app role's connection string)")
	}
	if cfg.MigrateDatabaseURL != "" && cfg.AppRole == "" {
		return cfg, fmt.Errorf("DATABASE_APP_ROLE is required when MIGRATE_DATABASE_URL is set")
	}
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		return cfg, fmt.Errorf("KAFKA_BROKERS is required (comma-separated host:port)")
	}
	cfg.Brokers = strings.Split(brokers, ",")
	a, err := auth.ConfigFromEnv()
	if err != nil {
		return cfg, err
	}
	cfg.Auth = a
	v := os.Getenv("CONTACTS_URL")
	u, err := url.Parse(v)
	if v == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("CONTACTS_URL is required: the contacts service's base URL, such as http://127.0.0.1:8081 (got %q)", v)
	}
	cfg.ContactsURL = u
	return cfg, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
