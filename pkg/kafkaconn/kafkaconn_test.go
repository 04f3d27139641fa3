package kafkaconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/kafkaconn"
)

// certs makes a CA and a certificate it signs for 127.0.0.1 and writes
// the CA's PEM to a file, returning the server's TLS config and the file.
func certs(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"kafka.test"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12}, caFile
}

// cluster is a kfake broker that takes only TLS connections authenticated by mechanism.
func cluster(t *testing.T, serverTLS *tls.Config, mechanism, user, pass string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "crm.test.v1"), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser(mechanism, user, pass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func setenv(t *testing.T, kv map[string]string) {
	for _, k := range []string{"KAFKA_TLS", "KAFKA_TLS_CA_FILE", "KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE", "KAFKA_TLS_SERVER_NAME",
		"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} {
		t.Setenv(k, kv[k])
	}
}

// roundTrip writes a message with Rapport's writer and reads it back with
// a reader, both on kafka-go's defaults, as every Rapport client is.
func roundTrip(ctx context.Context, brokers []string) error {
	w := events.NewWriter(brokers)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Topic: "crm.test.v1", Key: []byte("k"), Value: []byte("hello")}); err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "crm.test.v1", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err == nil && string(m.Value) != "hello" {
		err = &unexpected{string(m.Value)}
	}
	return err
}

type unexpected struct{ v string }

func (u *unexpected) Error() string { return "read " + u.v }

func TestClientsReachAClusterThatAsksForTLSAndSASL(t *testing.T) {
	for _, mech := range []string{kafkaconn.MechanismPlain, kafkaconn.MechanismSCRAMSHA256, kafkaconn.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			serverTLS, caFile := certs(t)
			brokers := cluster(t, serverTLS, mech, "rapport", "s3cret")
			setenv(t, map[string]string{"KAFKA_TLS_CA_FILE": caFile, "KAFKA_SASL_MECHANISM": mech,
				"KAFKA_SASL_USERNAME": "rapport", "KAFKA_SASL_PASSWORD": "s3cret"})
			s, err := kafkaconn.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			restore := kafkaconn.Install(s)
			defer restore()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := roundTrip(ctx, brokers); err != nil {
				t.Fatalf("over TLS with %s: %v", mech, err)
			}
		})
	}
}

func TestAWrongPasswordOrNoTLSIsRefused(t *testing.T) {
	serverTLS, caFile := certs(t)
	brokers := cluster(t, serverTLS, kafkaconn.MechanismPlain, "rapport", "s3cret")
	for name, env := range map[string]map[string]string{
		"a wrong password": {"KAFKA_TLS_CA_FILE": caFile, "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "rapport", "KAFKA_SASL_PASSWORD": "guess"},
		"plaintext":        {},
		"an untrusted CA":  {"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "rapport", "KAFKA_SASL_PASSWORD": "s3cret"},
	} {
		t.Run(name, func(t *testing.T) {
			setenv(t, env)
			s, err := kafkaconn.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			restore := kafkaconn.Install(s)
			defer restore()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err = roundTrip(ctx, brokers)
			if err == nil {
				t.Fatal("the cluster took the message")
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestFromEnvNamesWhatIsWrong(t *testing.T) {
	_, caFile := certs(t)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KAFKA_TLS": "maybe"}, "KAFKA_TLS must be true or false"},
		{map[string]string{"KAFKA_TLS": "false", "KAFKA_TLS_CA_FILE": caFile}, "KAFKA_TLS is false"},
		{map[string]string{"KAFKA_TLS_CA_FILE": "/nonexistent/ca.pem"}, "KAFKA_TLS_CA_FILE"},
		{map[string]string{"KAFKA_TLS_CERT_FILE": caFile}, "go together"},
		{map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"},
		{map[string]string{"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "without KAFKA_SASL_MECHANISM"},
	} {
		setenv(t, tc.env)
		if _, err := kafkaconn.FromEnv(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: have %v, want %q", tc.env, err, tc.want)
		}
	}
	setenv(t, nil)
	if s, err := kafkaconn.FromEnv(); err != nil || s.TLS != nil || s.SASL != nil {
		t.Errorf("nothing set: %+v, %v, want plaintext", s, err)
	}
}
