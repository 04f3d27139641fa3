package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/controller"
)

func ptr[T any](v T) *T { return &v }

// A Tenant becomes Ready once the real contacts service has applied it; its
// namespace and credentials exist, the service serves it, enforces its
// quota and honours its suspension, and a second pass writes nothing.
func TestTenantProvisionedEndToEnd(t *testing.T) {
	r := newRig(t)
	r.contacts.Start()
	ten := r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "sales-east"}, Spec: crmv1alpha1.TenantSpec{
		DisplayName: "Sales East", Admins: []string{"alice"}, Quotas: crmv1alpha1.Quotas{Contacts: ptr[int64](2)},
		DefaultCountry: "RU", BaseCurrency: "RUB", Locale: "ru"}})
	ten = r.waitReady("sales-east")

	if ten.Status.ObservedGeneration != 1 || len(ten.Status.Services) != 1 || ten.Status.Services[0].Name != "contacts" ||
		ten.Status.Services[0].AcknowledgedGeneration != 1 || !ten.Status.Services[0].Ready {
		t.Fatalf("status: %+v", ten.Status)
	}
	if !controllerutil.ContainsFinalizer(ten, controller.Finalizer) {
		t.Fatal("no finalizer on a provisioned tenant")
	}
	var ns corev1.Namespace
	if err := r.k8s.Get(context.Background(), types.NamespacedName{Name: "tenant-sales-east"}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels[controller.LabelTenantID] != string(ten.UID) || ns.Labels[controller.LabelRegion] != region || ten.Status.Namespace != ns.Name {
		t.Fatalf("namespace labels %v, status namespace %q", ns.Labels, ten.Status.Namespace)
	}
	var secret corev1.Secret
	if err := r.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns.Name, Name: controller.CredentialsSecret}, &secret); err != nil {
		t.Fatal(err)
	}
	key := string(secret.Data[controller.SecretKeyAPIKey])
	apiKey, err := tenancy.APIKeyRecord(key)
	if err != nil {
		t.Fatalf("the Secret holds no API key: %v", err)
	}
	recs := r.records()[string(ten.UID)]
	if len(recs) != 1 {
		t.Fatalf("%d records published for one generation", len(recs))
	}
	rec := recs[0]
	if rec.GetName() != "sales-east" || rec.GetRegion() != region || rec.GetQuotas().GetContacts() != 2 || rec.GetDefaultCountry() != "RU" ||
		len(rec.GetApiKeys()) != 1 || rec.GetApiKeys()[0].GetId() != apiKey.GetId() || !slices.Equal(rec.GetAdmins(), []string{"alice"}) {
		t.Fatalf("record: %v", rec)
	}

	// The contacts service serves the tenant: with its token, and through
	// the gateway with its API key.
	tok := r.token(ten.UID, "admin")
	r.call(http.MethodPost, "/v1/contacts", tok, map[string]any{"first_name": "Anna", "last_name": "Ivanova"}).Want(t, http.StatusCreated)
	r.gateway.Start()
	eventually(t, 10*time.Second, func() (bool, string) {
		got := r.viaGateway(http.MethodPost, "/v1/contacts", key, map[string]any{"first_name": "Boris", "last_name": "Petrov", "owner_id": "alice"})
		return got.Status == http.StatusCreated, string(got.Raw)
	})

	// Quota: the third contact of a tenant allowed two is refused, with the quota.
	over := r.call(http.MethodPost, "/v1/contacts", tok, map[string]any{"first_name": "Vera", "last_name": "Sidorova"}).Want(t, http.StatusForbidden)
	if over.Body["type"] == nil || !strings.Contains(over.Str("detail"), "2") {
		t.Fatalf("quota problem: %s", over.Raw)
	}

	// A second pass with nothing changed writes nothing.
	t.Run("idempotent", func(t *testing.T) {
		before := snapshot(t, r, ten.Name)
		published := len(r.records()[string(ten.UID)])
		rec := &controller.TenantReconciler{Client: r.direct(), APIReader: r.direct(), Region: region, Services: []string{"contacts"},
			NamespacePrefix: "tenant-", Publisher: failingPublisher{t}, Acks: controller.NewAcks()}
		for range 2 {
			if _, err := rec.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: ten.Name}}); err != nil {
				t.Fatal(err)
			}
		}
		if after := snapshot(t, r, ten.Name); after != before {
			t.Fatalf("a pass with nothing changed wrote: resourceVersions %s became %s", before, after)
		}
		if n := len(r.records()[string(ten.UID)]); n != published {
			t.Fatalf("a pass with nothing changed published: %d records, were %d", n, published)
		}
	})

	// Suspension: every call answers 403, the data stays; resuming serves again.
	r.update("sales-east", func(t *crmv1alpha1.Tenant) { t.Spec.Suspended = true })
	ten = r.waitCondition("sales-east", "Ready", metav1.ConditionTrue, "Suspended")
	if ten.Status.Services[0].AcknowledgedGeneration != 2 {
		t.Fatalf("suspension not acknowledged: %+v", ten.Status.Services)
	}
	for _, token := range []string{tok, key} {
		got := r.call(http.MethodGet, "/v1/contacts", token, nil).Want(t, http.StatusForbidden)
		if !strings.Contains(got.Str("type"), "tenant-suspended") {
			t.Fatalf("suspended answer: %s", got.Raw)
		}
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		got := r.viaGateway(http.MethodGet, "/v1/contacts", key, nil)
		return got.Status == http.StatusForbidden && strings.Contains(got.Str("type"), "tenant-suspended"), string(got.Raw)
	})
	if n := r.count(ten.UID, "select count(*) from contacts"); n != 2 {
		t.Fatalf("suspension lost data: %d contacts", n)
	}
	r.update("sales-east", func(t *crmv1alpha1.Tenant) { t.Spec.Suspended = false })
	r.waitReady("sales-east")
	eventually(t, 10*time.Second, func() (bool, string) {
		got := r.call(http.MethodGet, "/v1/contacts", tok, nil)
		return got.Status == http.StatusOK, string(got.Raw)
	})
}

// snapshot is the resourceVersions of a tenant and everything it owns.
func snapshot(t *testing.T, r *rig, name string) string {
	t.Helper()
	c := r.direct()
	ctx := context.Background()
	var ten crmv1alpha1.Tenant
	var ns corev1.Namespace
	var s corev1.Secret
	for _, get := range []struct {
		key types.NamespacedName
		obj client.Object
	}{{types.NamespacedName{Name: name}, &ten}, {types.NamespacedName{Name: "tenant-" + name}, &ns},
		{types.NamespacedName{Namespace: "tenant-" + name, Name: controller.CredentialsSecret}, &s}} {
		if err := c.Get(ctx, get.key, get.obj); err != nil {
			t.Fatal(err)
		}
	}
	return ten.ResourceVersion + "/" + ns.ResourceVersion + "/" + s.ResourceVersion
}

// failingPublisher fails the test when a pass publishes.
type failingPublisher struct{ t *testing.T }

func (p failingPublisher) Publish(context.Context, *tenancyv1.TenantRecord) error {
	p.t.Error("published a record")
	return nil
}

func (p failingPublisher) Tombstone(context.Context, uuid.UUID) error {
	p.t.Error("published a tombstone")
	return nil
}
