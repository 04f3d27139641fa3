package events_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// effectsSet is a consumer's own tables: every effect once (event_id is
// unique), and a per-aggregate counter whose value at the time of an effect
// is its position, which must equal the sequence number in the payload when
// the aggregate's events are applied in order.
var effectsSet = testenv.TenantTables("effects",
	`effects (tenant_id uuid not null, event_id uuid not null unique, aggregate text not null, seq bigint not null, position bigint not null)`,
	`counters (tenant_id uuid not null, aggregate text not null, n bigint not null, primary key (tenant_id, aggregate))`)

func setupDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testenv.AppPool(t, effectsSet)
}

// newEvent is event number seq of aggregate agg; the payload carries seq.
func newEvent(t testing.TB, topic string, tenant uuid.UUID, agg string, seq int64) events.Event {
	t.Helper()
	e, err := events.New(topic, "/rapport/test", "crm.test.happened", tenant, agg, wrapperspb.Int64(seq))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// applyEffect is the handler under test: it writes the effect only through
// the consumer's transaction.
func applyEffect(ctx context.Context, tx pgx.Tx, e events.Event) error {
	var v wrapperspb.Int64Value
	if err := e.Unmarshal(&v); err != nil {
		return err
	}
	var pos int64
	if err := tx.QueryRow(ctx, `insert into counters (tenant_id, aggregate, n) values ($1, $2, 1)
on conflict (tenant_id, aggregate) do update set n = counters.n + 1 returning n`, e.TenantID, e.Subject).Scan(&pos); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `insert into effects (tenant_id, event_id, aggregate, seq, position) values ($1, $2, $3, $4, $5)`,
		e.TenantID, e.ID, e.Subject, v.GetValue(), pos)
	return err
}

// effectStats reads, across tenants, how many effects exist and how many
// were applied out of their aggregate's order.
func effectStats(t *testing.T, pool *pgxpool.Pool, tenants []uuid.UUID) (n, misordered int) {
	t.Helper()
	ctx := context.Background()
	for _, tenant := range tenants {
		var a, b int
		err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select count(*), count(*) filter (where position <> seq) from effects`).Scan(&a, &b)
		})
		if err != nil {
			t.Fatal(err)
		}
		n, misordered = n+a, misordered+b
	}
	return n, misordered
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run starts fn in the background and returns a stop function that cancels
// it and waits for it to return nil.
func run(t *testing.T, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run returned %v after cancel, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newConsumer(t *testing.T, cfg events.ConsumerConfig) *events.Consumer {
	t.Helper()
	c, err := events.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readTopic returns every message on the topic's partitions.
func readTopic(t *testing.T, brokers []string, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var all []kafka.Message
	for p := 0; p < 3; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			all = append(all, m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return all
}

// killingWriter forwards writes to a real Kafka writer until its fuse call:
// that one delivers only the first half of the batch, then kills the relay
// (cancels its context) and fails — a crash between publish and delete.
type killingWriter struct {
	w      events.Writer
	fuse   int
	kill   context.CancelFunc
	calls  atomic.Int64
	killed atomic.Bool
}

func (k *killingWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if k.killed.Load() {
		return fmt.Errorf("relay is dead")
	}
	if int(k.calls.Add(1)) < k.fuse || len(msgs) < 2 {
		return k.w.WriteMessages(ctx, msgs...)
	}
	if err := k.w.WriteMessages(ctx, msgs[:len(msgs)/2]...); err != nil {
		return err
	}
	k.killed.Store(true)
	k.kill()
	return fmt.Errorf("killed after %d of %d messages", len(msgs)/2, len(msgs))
}

var (
	meterOnce   sync.Once
	meterReader *sdkmetric.ManualReader
)

// metricsReader installs (once) a global meter provider read on demand.
func metricsReader() *sdkmetric.ManualReader {
	meterOnce.Do(func() {
		meterReader = sdkmetric.NewManualReader()
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(meterReader)))
	})
	return meterReader
}

// sumInt64 adds up the data points of an int64 sum or gauge whose
// attributes include every match pair.
func sumInt64(t *testing.T, name string, match map[string]string) (total int64, found bool) {
	return sumPoints[int64](t, name, match)
}

func sumPoints[N int64 | float64](t *testing.T, name string, match map[string]string) (total N, found bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := metricsReader().Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[N]
			switch d := m.Data.(type) {
			case metricdata.Sum[N]:
				points = d.DataPoints
			case metricdata.Gauge[N]:
				points = d.DataPoints
			}
		next:
			for _, p := range points {
				for k, v := range match {
					if have, ok := p.Attributes.Value(attribute.Key(k)); !ok || have.Emit() != v {
						continue next
					}
				}
				total, found = total+p.Value, true
			}
		}
	}
	return total, found
}
