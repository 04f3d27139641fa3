// Package bench holds the benchmarks of DESIGN.md §13. `make bench` runs them
// and writes BENCHMARKS.md; they are never timed tests.
package bench

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var effects = testenv.TenantTables("bench", `effects (tenant_id uuid not null, event_id uuid not null, primary key (tenant_id, event_id))`)

// BenchmarkOutboxToConsumer offers events at 2,000/s, each committed in its
// own transaction like a request's, and measures the time from commit to the
// consumer's committed effect, through the relay and the broker.
func BenchmarkOutboxToConsumer(b *testing.B) {
	const rate, seconds = 2000, 5
	const total = rate * seconds
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := testenv.NewDatabase(b)
	brokers := testenv.Kafka(b, "bench.events.v1")
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), effects); err != nil {
		b.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	w := events.NewWriter(brokers)
	defer w.Close()

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, total)
		done      atomic.Int64
		finished  = make(chan struct{})
	)
	// The event's time is taken just before its transaction; the effect is
	// measured when the consumer's handler has written it (its commit follows).
	consumer, err := events.NewConsumer(events.ConsumerConfig{Brokers: brokers, Group: "bench", Topics: []string{"bench.events.v1"}, Pool: pool, DLQ: w,
		Handler: func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			if _, err := tx.Exec(ctx, `insert into effects values ($1, $2)`, e.TenantID, e.ID); err != nil {
				return err
			}
			mu.Lock()
			latencies = append(latencies, time.Since(e.Time))
			mu.Unlock()
			if done.Add(1) == total {
				close(finished)
			}
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	relay := events.NewRelay(pool, w, events.RelayOptions{Service: "bench"})
	stopped := make(chan struct{}, 2)
	go func() { _ = relay.Run(ctx); stopped <- struct{}{} }()
	go func() { _ = consumer.Run(ctx); stopped <- struct{}{} }()
	// The relay holds a pooled connection for its leader lock: stop it before
	// the pool is closed, or Close waits for that connection forever.
	defer func() { cancel(); <-stopped; <-stopped }()

	tenants := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	const producers = 16
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < total; i += producers {
				// Pace the offered load at `rate` events per second.
				if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
					time.Sleep(d)
				}
				tenant := tenants[i%len(tenants)]
				ev, err := events.New("bench.events.v1", "/bench", "bench.happened", tenant, uuid.NewString(), wrapperspb.Int64(int64(i)))
				if err != nil {
					b.Error(err)
					return
				}
				if err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error { return events.Append(ctx, tx, ev) }); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d effects after 2 minutes", done.Load(), total)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(ms(percentile(latencies, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(latencies, 0.99)), "p99-ms")
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*q)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
