// Package kafkaconn is how every Rapport program reaches a Kafka cluster
// that asks for TLS or SASL. kafka-go's clients all dial through its
// package defaults (kafka.DefaultDialer for readers and connections,
// kafka.DefaultTransport for writers and admin clients), and no Rapport
// code sets a dialer or transport of its own, so Install sets the
// security of the whole process in one place, at start.
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Settings are the security of the connections to Kafka; the zero value is
// plaintext without authentication.
type Settings struct {
	// TLS, when not nil, encrypts every connection.
	TLS *tls.Config
	// SASL, when not nil, authenticates every connection.
	SASL sasl.Mechanism
}

// The SASL mechanisms KAFKA_SASL_MECHANISM names.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// FromEnv reads the settings:
//
//	KAFKA_TLS                   true to use TLS (implied by the other KAFKA_TLS_* variables)
//	KAFKA_TLS_CA_FILE           PEM file of the CAs to trust (default: the system's)
//	KAFKA_TLS_CERT_FILE/_KEY_FILE  the client's certificate and key, for mutual TLS
//	KAFKA_TLS_SERVER_NAME       the name the brokers' certificates carry, if not their host names
//	KAFKA_SASL_MECHANISM        PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//	KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD  the credentials SASL presents
//
// Every error names the variable at fault.
func FromEnv() (Settings, error) {
	var s Settings
	caFile, certFile, keyFile := env("KAFKA_TLS_CA_FILE"), env("KAFKA_TLS_CERT_FILE"), env("KAFKA_TLS_KEY_FILE")
	serverName := env("KAFKA_TLS_SERVER_NAME")
	useTLS := caFile != "" || certFile != "" || keyFile != "" || serverName != ""
	if v := env("KAFKA_TLS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("KAFKA_TLS must be true or false, got %q", v)
		}
		if !on && useTLS {
			return s, errors.New("KAFKA_TLS is false but KAFKA_TLS_* settings are given; remove them or set KAFKA_TLS=true")
		}
		useTLS = on
	}
	if useTLS {
		c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return s, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
			}
			c.RootCAs = x509.NewCertPool()
			if !c.RootCAs.AppendCertsFromPEM(pem) {
				return s, fmt.Errorf("KAFKA_TLS_CA_FILE %s holds no PEM certificate", caFile)
			}
		}
		switch {
		case certFile != "" && keyFile != "":
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return s, fmt.Errorf("KAFKA_TLS_CERT_FILE/KAFKA_TLS_KEY_FILE: %w", err)
			}
			c.Certificates = []tls.Certificate{cert}
		case certFile != "" || keyFile != "":
			return s, errors.New("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together: give both for mutual TLS, or neither")
		}
		s.TLS = c
	}
	mech, user, pass := env("KAFKA_SASL_MECHANISM"), env("KAFKA_SASL_USERNAME"), os.Getenv("KAFKA_SASL_PASSWORD")
	if mech == "" {
		if user != "" || pass != "" {
			return s, errors.New("KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set without KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return s, nil
	}
	if user == "" || pass == "" {
		return s, fmt.Errorf("KAFKA_SASL_MECHANISM %s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD", mech)
	}
	switch strings.ToUpper(mech) {
	case MechanismPlain:
		s.SASL = plain.Mechanism{Username: user, Password: pass}
	case MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		algo := scram.SHA256
		if strings.ToUpper(mech) == MechanismSCRAMSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, user, pass)
		if err != nil {
			return s, fmt.Errorf("KAFKA_SASL_MECHANISM %s: %w", mech, err)
		}
		s.SASL = m
	default:
		return s, fmt.Errorf("KAFKA_SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", mech)
	}
	return s, nil
}

func env(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// Install makes s the security of every kafka-go client the process makes
// from now on, and returns a function that puts back what was there (for
// tests). Plaintext settings change nothing.
func Install(s Settings) (restore func()) {
	dialer, transport := kafka.DefaultDialer, kafka.DefaultTransport
	restore = func() { kafka.DefaultDialer, kafka.DefaultTransport = dialer, transport }
	if s.TLS == nil && s.SASL == nil {
		return restore
	}
	kafka.DefaultDialer = &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: s.TLS, SASLMechanism: s.SASL}
	kafka.DefaultTransport = &kafka.Transport{
		Dial: (&net.Dialer{Timeout: 3 * time.Second, DualStack: true}).DialContext,
		TLS:  s.TLS,
		SASL: s.SASL,
	}
	return restore
}
