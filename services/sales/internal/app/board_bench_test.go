package app_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

// seedDeals stores n deals spread over the pipeline's stages and 50
// owners, in RUB and EUR, through the service's role and row-level security
// (the stage_sums triggers keep the board's sums as they go). It is test
// data setup, not a measured write path.
func seedDeals(tb testing.TB, h *harness, tenant uuid.UUID, pipeline string, stages []string, n int) {
	tb.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, h.appURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	ids := make([]uuid.UUID, len(stages))
	for i, s := range stages {
		ids[i] = uuid.MustParse(s)
	}
	const chunk = 100_000
	for from := 0; from < n; from += chunk {
		err := postgres.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into deals (tenant_id, id, title, pipeline_id, stage_id, status, amount, currency, owner_id, team,
					stage_entered_at, version, created_at, updated_at)
				select $1, gen_random_uuid(), 'Deal ' || i, $2, ($3::uuid[])[1 + i % 4], 'open', (i % 1000) * 10000,
					case when i % 10 = 0 then 'EUR' else 'RUB' end, 'rep-' || (i % 50), 'team-' || (i % 5),
					now() - make_interval(secs => i), 1, now(), now()
				from generate_series($4::int, $5::int) i`, tenant, uuid.MustParse(pipeline), ids[:4], from, min(from+chunk, n)-1)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	// As autovacuum would after a load: statistics, and the visibility map
	// that lets the rep's board sum from the index alone. The owner of the
	// tables (here the cluster's superuser) may vacuum them.
	u, _ := url.Parse(h.appURL)
	super, err := pgx.Connect(ctx, testenv.Postgres(tb).URL("postgres", strings.TrimPrefix(u.Path, "/")))
	if err != nil {
		tb.Fatal(err)
	}
	defer super.Close(ctx)
	if _, err := super.Exec(ctx, `vacuum analyze deals, stage_sums`); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkBoard measures GET /v1/pipelines/{id}/board over a pipeline
// holding BOARD_DEALS (default 1,000,000) deals, for an admin (every
// deal), a rep (their 20,000) and a manager (their team's 200,000); the
// sums come from stage_sums. DESIGN.md §13 (a report over 1M deals): p95
// ≤ 100 ms.
func BenchmarkBoard(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("BOARD_DEALS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	h := start(b)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "EUR", "rate": "90.5"}).Want(b, http.StatusOK)
	pl := h.pipeline(admin)
	seedDeals(b, h, h.tenantA, pl["id"].(string), stageIDs(pl), n)
	path := "/v1/pipelines/" + pl["id"].(string) + "/board"
	for _, who := range []struct{ name, token string }{
		{"admin", admin},
		{"rep", h.userToken(h.tenantA, "rep-7", auth.RoleRep, "team-2")},
		{"manager", h.userToken(h.tenantA, "manager-1", auth.RoleManager, "team-2")},
	} {
		b.Run(who.name, func(b *testing.B) {
			const requests = 200
			lat := make([]time.Duration, 0, requests)
			for i := range requests + 10 {
				begin := time.Now()
				r := h.do("GET", path, who.token, nil).Want(b, http.StatusOK)
				if i >= 10 {
					lat = append(lat, time.Since(begin))
				}
				var count float64
				for _, st := range r.Body["stages"].([]any) {
					count += st.(map[string]any)["count"].(float64)
				}
				if count == 0 {
					b.Fatalf("empty board: %.300s", r.Raw)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// BenchmarkDealMoves measures POST /v1/deals/{id}/move through the
// service's HTTP handler, 16 clients at once, each moving its own deals
// back and forth between two open stages of a pipeline holding the seeded
// deals (MOVE_DEALS, default 100,000): moves per second and p99.
func BenchmarkDealMoves(b *testing.B) {
	n := 100_000
	if s := os.Getenv("MOVE_DEALS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	h := start(b)
	admin := h.token(h.tenantA, auth.RoleAdmin)
	pl := h.pipeline(admin)
	stages := stageIDs(pl)
	seedDeals(b, h, h.tenantA, pl["id"].(string), stages, n)
	const clients, perClient = 16, 250
	deals := make([][]string, clients)
	for c := range clients {
		for range 5 {
			d := h.do("POST", "/v1/deals", admin, map[string]any{"title": "moving", "amount": 1000}).Want(b, http.StatusCreated)
			deals[c] = append(deals[c], d.Str("id"))
		}
	}
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	begin := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				to := stages[1+i%2] // Qualified, Proposal, Qualified, …
				t0 := time.Now()
				h.do("POST", "/v1/deals/"+deals[c][i%5]+"/move", admin, map[string]any{"stage_id": to}).Want(b, http.StatusOK)
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(len(all))/took.Seconds(), "moves/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
