package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/store"
	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/timers"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// seedTasks stores n open tasks of users users (user-0 … in team-0 …),
// due from a month ago to a month on, through the app role and row-level
// security, then has statistics gathered as autovacuum would. Test data
// setup, not a measured path.
func seedTasks(tb testing.TB, w *testenv.World, tenant uuid.UUID, n, users int) {
	tb.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, w.DB.AppURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	const chunk = 100_000
	for from := 0; from < n; from += chunk {
		err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tasks (tenant_id, id, kind, subject, note, due_at, duration_minutes, priority, owner_id, team,
					status, outcome, result, closed_by, version, created_at, updated_at, attempt, client_time_zone)
				select $1, gen_random_uuid(), 'call', 'Task ' || i, '', now() + make_interval(mins => ((i::bigint * 7919) % 86400 - 43200)::int), 0,
					(array['low', 'normal', 'high'])[1 + i % 3], 'user-' || (i % $4), 'team-' || (i % $4 % 10),
					'open', '', '', '', 1, now(), now(), 1, ''
				from generate_series($2::int, $3::int) i`, tenant, from, min(from+chunk, n)-1, users)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	super, err := pgx.Connect(ctx, testenv.Postgres(tb).URL("postgres", w.DB.Name))
	if err != nil {
		tb.Fatal(err)
	}
	defer super.Close(ctx)
	if _, err := super.Exec(ctx, `vacuum analyze tasks`); err != nil {
		tb.Fatal(err)
	}
}

func percentile(d []time.Duration, p float64) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
}

// BenchmarkNextTask measures GET /v1/tasks/next through the service's
// HTTP handler over NEXT_TASKS (default 1,000,000) open tasks of 1,000
// users, each request a random user's: the budget is p95 ≤ 10 ms.
func BenchmarkNextTask(b *testing.B) {
	h := start(b)
	n := envInt("NEXT_TASKS", 1_000_000)
	seedTasks(b, h.World, h.tenantA, n, 1000)
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = h.Token(h.tenantA, fmt.Sprint("user-", i), "rep", fmt.Sprint("team-", i%10))
	}
	const requests = 500
	lat := make([]time.Duration, 0, requests)
	for i := range requests + 20 {
		tok := tokens[rand.IntN(len(tokens))]
		begin := time.Now()
		r := h.do("GET", "/v1/tasks/next?device=bench", tok).Want(b, http.StatusOK)
		if i >= 20 {
			lat = append(lat, time.Since(begin))
		}
		if r.Body["task"] == nil {
			b.Fatalf("no next task: %s", r.Raw)
		}
	}
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.95), "p95-ms")
}

// BenchmarkCompleteWithNext completes tasks with an outcome and the next
// step through the gateway program in front of the service, 16 clients
// at once: the budget is ≥ 1,000 req/s with p99 ≤ 50 ms.
func BenchmarkCompleteWithNext(b *testing.B) {
	h := startPeered(b, nil)
	// A tenant's default rate would refuse a benchmark: this one has room.
	gw := h.gateway(b, "GATEWAY_DEFAULT_RPS=100000", "GATEWAY_BURST=100000")
	const clients, perClient = 16, 400
	seedTasks(b, h.World, h.tenantA, clients*perClient, clients)
	type work struct {
		tok string
		ids []string
	}
	queues := make([]work, clients)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, h.DB.AppURL)
	if err != nil {
		b.Fatal(err)
	}
	for c := range clients {
		queues[c].tok = h.Token(h.tenantA, fmt.Sprint("user-", c), "rep", fmt.Sprint("team-", c%10))
		err := postgres.InTenant(ctx, pool, h.tenantA, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `select id::text from tasks where tenant_id = $1 and owner_id = $2`, h.tenantA, fmt.Sprint("user-", c))
			if err != nil {
				return err
			}
			queues[c].ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	pool.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	next := fmt.Sprintf(`{"outcome":"reached","result":"ok","next":{"kind":"call","subject":"Follow up","due_at":%q}}`,
		time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
	complete := func(tok, id string) (time.Duration, int) {
		req, _ := http.NewRequest("POST", gw+"/v1/tasks/"+id+"/complete", bytes.NewBufferString(next))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		begin := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(begin), resp.StatusCode
	}
	for c := range clients { // warm up
		for _, id := range queues[c].ids[:10] {
			if _, status := complete(queues[c].tok, id); status != http.StatusOK {
				b.Fatalf("warm-up: %d", status)
			}
		}
	}
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	begin := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range queues[c].ids[10:] {
				d, status := complete(queues[c].tok, id)
				if status != http.StatusOK {
					b.Errorf("complete: %d", status)
					return
				}
				lat[c] = append(lat[c], d)
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	b.ReportMetric(float64(len(all))/took.Seconds(), "req/s")
	b.ReportMetric(percentile(all, 0.50), "p50-ms")
	b.ReportMetric(percentile(all, 0.99), "p99-ms")
}

// BenchmarkDueSoonBurst has DUE_TASKS (default 100,000) tasks of one
// tenant reminded within the same minute, with two replicas working the
// due-time jobs (the service and a second queue on its database), and
// measures each crm.task.due_soon's lateness after its reminder time: when
// the worker told it (the event's time, in the outbox) and when it reached
// Kafka. Every task must be told exactly once. The budget is p99 ≤ 5 s.
func BenchmarkDueSoonBurst(b *testing.B) {
	h := start(b)
	n := envInt("DUE_TASKS", 100_000)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, h.DB.AppURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	second, err := timers.New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), service.DueEvents, timers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- second.Run(runCtx) }()
	defer func() { stop(); <-done }()
	// The minute starts after the seeding (n/4,000 s, and 20 s more); one
	// job per second.
	start := time.Now().Add(20*time.Second + time.Duration(n/4)*time.Millisecond).Truncate(time.Second)
	seedTasks(b, h.World, h.tenantA, n, 1000)
	remind := map[string]time.Time{}
	err = postgres.InTenant(ctx, pool, h.tenantA, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `update tasks set remind_at = $2::timestamptz + make_interval(secs => (abs(hashtext(id::text)) % 60000) / 1000.0),
				due_at = $2::timestamptz + interval '1 hour' where tenant_id = $1`, h.tenantA, start); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `select id::text, remind_at from tasks where tenant_id = $1`, h.tenantA)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				return err
			}
			remind[id] = at
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var ts []store.Timer
		for s := range 61 {
			ts = append(ts, store.Timer{Event: store.DueSoon, At: start.Add(time.Duration(s) * time.Second)})
		}
		return second.ScheduleTx(ctx, tx, h.tenantA, ts)
	})
	if err != nil {
		b.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.Brokers, GroupID: "bench-" + uuid.NewString(), Topic: catalog.TasksTopic,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	told, published := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	seen := map[uuid.UUID]bool{}
	per := map[string]int{}
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for len(per) < n {
		m, err := r.ReadMessage(readCtx)
		if err != nil {
			break
		}
		e, err := events.FromMessage(m)
		if err != nil || e.Type != catalog.TaskDueSoon || seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		per[e.Subject]++
		at := remind[e.Subject]
		told = append(told, e.Time.Sub(at))
		published = append(published, m.Time.Sub(at))
	}
	twice := 0
	for _, c := range per {
		if c > 1 {
			twice++
		}
	}
	if len(per) != n || twice > 0 {
		b.Fatalf("%d of %d tasks told, %d more than once", len(per), n, twice)
	}
	b.ReportMetric(percentile(told, 0.50)/1000, "told-p50-s")
	b.ReportMetric(percentile(told, 0.99)/1000, "told-p99-s")
	b.ReportMetric(percentile(published, 0.50)/1000, "published-p50-s")
	b.ReportMetric(percentile(published, 0.99)/1000, "published-p99-s")
}
