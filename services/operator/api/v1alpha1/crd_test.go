package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

func ptr(n int64) *int64 { return &n }

// The CRD the chart ships is what the API server enforces: its CEL and
// schema rules refuse bad Tenants before the operator sees them.
func TestTheAPIServerEnforcesTheTenantRules(t *testing.T) {
	_, c := envtestkit.Start(t)
	ctx := context.Background()
	tenant := func(name string, spec crmv1alpha1.TenantSpec) *crmv1alpha1.Tenant {
		return &crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	}
	good := tenant("sales-moscow", crmv1alpha1.TenantSpec{DisplayName: "Продажи, Москва", Region: "ru-central-1", Parent: "acme",
		Quotas: crmv1alpha1.Quotas{Contacts: ptr(1_000_000), RequestsPerSecond: ptr(500)}, Locale: "ru", BaseCurrency: "RUB", DefaultCountry: "RU"})
	if err := c.Create(ctx, good); err != nil {
		t.Fatal(err)
	}
	var stored crmv1alpha1.Tenant
	if err := c.Get(ctx, client.ObjectKey{Name: "sales-moscow"}, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Spec.DeletionPolicy != crmv1alpha1.DeletionRetain {
		t.Errorf("deletionPolicy defaults to %q, want Retain", stored.Spec.DeletionPolicy)
	}

	for name, tc := range map[string]struct {
		spec crmv1alpha1.TenantSpec
		want string
	}{
		"bad-region":   {crmv1alpha1.TenantSpec{Region: "RU Central"}, "spec.region"},
		"no-region":    {crmv1alpha1.TenantSpec{}, "spec.region"},
		"zero-quota":   {crmv1alpha1.TenantSpec{Region: "eu-west-1", Quotas: crmv1alpha1.Quotas{Users: ptr(0)}}, "spec.quotas.users"},
		"self-parent":  {crmv1alpha1.TenantSpec{Region: "eu-west-1", Parent: "self-parent"}, "its own parent"},
		"bad-policy":   {crmv1alpha1.TenantSpec{Region: "eu-west-1", DeletionPolicy: "Shred"}, "spec.deletionPolicy"},
		"bad-currency": {crmv1alpha1.TenantSpec{Region: "eu-west-1", BaseCurrency: "rubles"}, "spec.baseCurrency"},
		// A DNS subdomain the API server takes for a name, but no DNS label
		// (or too long one) for the tenant's namespace.
		"dotted.name":           {crmv1alpha1.TenantSpec{Region: "eu-west-1"}, "DNS label of at most 56"},
		strings.Repeat("x", 57): {crmv1alpha1.TenantSpec{Region: "eu-west-1"}, "DNS label of at most 56"},
	} {
		err := c.Create(ctx, tenant(name, tc.spec))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: have %v, want a refusal naming %s", name, err, tc.want)
		}
	}

	// The region never changes.
	stored.Spec.Region = "eu-west-1"
	if err := c.Update(ctx, &stored); err == nil || !strings.Contains(err.Error(), "region is immutable") {
		t.Errorf("region change: %v", err)
	}
}
