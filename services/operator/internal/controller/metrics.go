package controller

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

// Phases a tenant is counted in by rapport_tenants.
const (
	PhaseReady          = "Ready"
	PhaseSuspended      = "Suspended"
	PhasePending        = "Pending"
	PhaseBlocked        = "Blocked"
	PhaseDeleting       = "Deleting"
	PhaseRegionMismatch = "RegionMismatch"
)

// Phase sums up a tenant's status in one word.
func Phase(t *crmv1alpha1.Tenant) string {
	ready := meta.FindStatusCondition(t.Status.Conditions, CondReady)
	prov := meta.FindStatusCondition(t.Status.Conditions, CondProvisioned)
	switch {
	case !t.DeletionTimestamp.IsZero():
		return PhaseDeleting
	case ready != nil && ready.Reason == ReasonRegionMismatch:
		return PhaseRegionMismatch
	case ready != nil && ready.Status == "True" && t.Spec.Suspended:
		return PhaseSuspended
	case ready != nil && ready.Status == "True":
		return PhaseReady
	case prov != nil && prov.Status == "False":
		return PhaseBlocked
	}
	return PhasePending
}

// tenantsByPhase counts the cached Tenants per phase at every scrape; the
// reconcile count, duration and errors come from controller-runtime's own
// controller_runtime_reconcile_* metrics on the same endpoint.
type tenantsByPhase struct {
	reader client.Reader
	desc   *prometheus.Desc
}

func (c *tenantsByPhase) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *tenantsByPhase) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list crmv1alpha1.TenantList
	if err := c.reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[string]int{PhaseReady: 0, PhaseSuspended: 0, PhasePending: 0, PhaseBlocked: 0, PhaseDeleting: 0, PhaseRegionMismatch: 0}
	for i := range list.Items {
		counts[Phase(&list.Items[i])]++
	}
	for phase, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), phase)
	}
}

// RegisterMetrics adds rapport_tenants{phase} to the manager's registry,
// replacing the one of an earlier manager in the same process (tests).
func RegisterMetrics(reader client.Reader, region string) error {
	c := &tenantsByPhase{reader: reader, desc: prometheus.NewDesc("rapport_tenants",
		"Tenants known to this operator, by phase.", []string{"phase"}, prometheus.Labels{"region": region})}
	err := ctrlmetrics.Registry.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		ctrlmetrics.Registry.Unregister(dup.ExistingCollector)
		err = ctrlmetrics.Registry.Register(c)
	}
	return err
}
