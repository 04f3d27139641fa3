// Package testenv starts the real components integration tests run against:
// a private PostgreSQL cluster (initdb in a temporary folder, a random port),
// the kfake Kafka-protocol broker in process, and an in-memory span recorder.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
)

var (
	pgOnce    sync.Once
	pgCluster *pgcluster.Cluster
	pgDir     string
	pgErr     error
	dbSeq     atomic.Int64
)

// Main runs the package's tests, stops the shared PostgreSQL cluster and
// removes the programs BuildProgram built.
func Main(m *testing.M) {
	code := m.Run()
	removePrograms()
	if pgCluster != nil {
		_ = pgCluster.Stop()
		_ = os.RemoveAll(pgDir)
	}
	os.Exit(code)
}

// Postgres returns the test binary's cluster, starting it on first use.
func Postgres(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	pgOnce.Do(func() {
		pgDir, pgErr = os.MkdirTemp("", "rapport-pg-*")
		if pgErr != nil {
			return
		}
		log, _ := os.Create(filepath.Join(pgDir, "server.log"))
		pgCluster, pgErr = pgcluster.Start(context.Background(), pgcluster.Options{Dir: filepath.Join(pgDir, "data"), Log: log})
	})
	if pgErr != nil {
		t.Fatalf("testenv: start PostgreSQL: %v", pgErr)
	}
	return pgCluster
}

// NewDatabase creates a fresh database with its owner and app roles.
func NewDatabase(t testing.TB) pgcluster.Database {
	t.Helper()
	c := Postgres(t)
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), sanitize(t.Name()))
	db, err := c.EnsureDatabase(context.Background(), name)
	if err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	return db
}

func sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// Kafka starts a kfake broker for the test with the topics seeded (3
// partitions each) and returns its seed addresses. It stops at cleanup.
func Kafka(t testing.TB, topics ...string) []string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(3, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("testenv: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

var (
	spanOnce sync.Once
	recorder *tracetest.SpanRecorder
)

// Spans installs (once per process) a global tracer provider that records
// every span in memory, with W3C trace-context propagation, and returns the
// recorder. Tests tell their spans apart by trace id.
func Spans(t testing.TB) *tracetest.SpanRecorder {
	t.Helper()
	spanOnce.Do(func() {
		recorder = tracetest.NewSpanRecorder()
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	})
	return recorder
}
