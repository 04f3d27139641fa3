package app_test

import (
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// BenchmarkCreateDealNamingAContact measures POST /v1/deals naming a
// contact and a company that sales already holds, through the service's
// HTTP handler, from one client and from 16 at once: deals per second,
// mean and p99 latency. What the references cost is in its round trips.
func BenchmarkCreateDealNamingAContact(b *testing.B) {
	h := start(b)
	rep := h.token(h.tenantA, auth.RoleRep)
	contact, company := h.contact(h.tenantA, "Анна", "Иванова"), h.company(h.tenantA, "Акме")
	body := map[string]any{"title": "Fleet renewal", "amount": 150000, "contact_id": contact, "company_id": company}
	for _, tc := range []struct {
		name               string
		clients, perClient int
	}{{"1-client", 1, 1000}, {"16-clients", 16, 250}} {
		b.Run(tc.name, func(b *testing.B) {
			for range 20 { // warm connections and prepared statements
				h.do("POST", "/v1/deals", rep, body).Want(b, http.StatusCreated)
			}
			lat := make([][]time.Duration, tc.clients)
			var wg sync.WaitGroup
			begin := time.Now()
			for c := range tc.clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range tc.perClient {
						t0 := time.Now()
						h.do("POST", "/v1/deals", rep, body).Want(b, http.StatusCreated)
						lat[c] = append(lat[c], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			took := time.Since(begin)
			var all []time.Duration
			var sum time.Duration
			for _, l := range lat {
				all = append(all, l...)
				for _, d := range l {
					sum += d
				}
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			b.ReportMetric(float64(len(all))/took.Seconds(), "deals/s")
			b.ReportMetric(float64(sum.Microseconds())/float64(len(all))/1000, "mean-ms")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
