package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

// BenchmarkTenantToReady: one Tenant created → Ready, acknowledged by the
// real contacts service (budget: ≤ 5 s).
func BenchmarkTenantToReady(b *testing.B) {
	r := newRig(b)
	r.contacts.Start()
	var total time.Duration
	var worst time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("one-%d", i)
		start := time.Now()
		r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}})
		r.waitReady(name)
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ready-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}

// BenchmarkTenants500ToReady: 500 Tenants created at once → all Ready
// (budget: ≤ 60 s).
func BenchmarkTenants500ToReady(b *testing.B) {
	const n = 500
	r := newRig(b)
	r.contacts.Start()
	for round := 0; b.Loop(); round++ {
		start := time.Now()
		var wg sync.WaitGroup
		names := make(chan string)
		for range 16 {
			wg.Go(func() {
				for name := range names {
					r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}})
				}
			})
		}
		for i := range n {
			names <- fmt.Sprintf("r%d-dept-%d", round, i)
		}
		close(names)
		wg.Wait()
		created := time.Since(start)
		eventually(b, 5*time.Minute, func() (bool, string) {
			var list crmv1alpha1.TenantList
			if err := r.k8s.List(context.Background(), &list); err != nil {
				return false, err.Error()
			}
			ready := 0
			for _, t := range list.Items {
				if meta.IsStatusConditionTrue(t.Status.Conditions, "Ready") {
					ready++
				}
			}
			return ready >= n*(round+1), fmt.Sprintf("%d of %d ready", ready, n)
		})
		b.ReportMetric(created.Seconds(), "create-s")
		b.ReportMetric(time.Since(start).Seconds(), "all-ready-s")
	}
}
