package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/tests/platform"
)

// BenchmarkCreateContactViaGateway posts contacts through the gateway of a
// platform started as `make run` starts it (each service its own process,
// PostgreSQL durable, outbox included) from a fixed number of concurrent
// clients, and reports throughput and the latency distribution. It runs
// twice: with the access logs make run prints (every line copied, prefixed,
// through deploy/local to the terminal and a file), and with LOG_LEVEL=warn,
// closer to a deployment whose logs a collector ships.
func BenchmarkCreateContactViaGateway(b *testing.B) {
	bin := platform.Build(b)
	b.Run("access-log", func(b *testing.B) { createContacts(b, bin) })
	b.Run("quiet", func(b *testing.B) { createContacts(b, bin, "LOG_LEVEL=warn") })
}

func createContacts(b *testing.B, bin string, env ...string) {
	const clients, total = 32, 20000
	p := platform.New(b, bin, filepath.Join(b.TempDir(), "data"), env...)
	p.Start()
	tok := p.Token("demo", "rep")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	post := func(i int64) (time.Duration, int, error) {
		body := fmt.Sprintf(`{"first_name":"Bench %d","emails":["bench%d@example.com"],"phones":["+7 900 %07d"]}`, i, i, i)
		req, _ := http.NewRequest("POST", p.Gateway+"/v1/contacts", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		begin := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(begin), resp.StatusCode, nil
	}
	// Warm up connections, pools and caches.
	for i := range int64(200) {
		if _, status, err := post(total + 1 + i); err != nil || status != http.StatusCreated {
			b.Fatalf("warm-up: %d %v\n%s", status, err, p.Output())
		}
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, total)
		failures  atomic.Int64
		wg        sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				d, status, err := post(i)
				if err != nil || status != http.StatusCreated {
					failures.Add(1)
					continue
				}
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, total)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(percentile(latencies, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(latencies, 0.99)), "p99-ms")
	p.Stop()
}
