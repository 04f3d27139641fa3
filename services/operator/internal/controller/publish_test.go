package controller_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/controller"
	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

// brokenKafka refuses every record, as an unreachable broker would.
type brokenKafka struct{}

func (brokenKafka) Publish(context.Context, *tenancyv1.TenantRecord) error {
	return errors.New("dial tcp kafka-0:9092: connection refused")
}
func (brokenKafka) Tombstone(context.Context, uuid.UUID) error { return errors.New("unreachable") }

// A record that cannot be published is an error (requeued with backoff)
// and a reason in the status an admin can read; the generation is not
// taken as observed, so the next pass publishes it.
func TestPublishFailureIsShownAndRetried(t *testing.T) {
	_, c := envtestkit.Start(t)
	ctx := context.Background()
	if err := c.Create(ctx, &crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "unlucky"}, Spec: crmv1alpha1.TenantSpec{Region: "ru-central-1"}}); err != nil {
		t.Fatal(err)
	}
	r := &controller.TenantReconciler{Client: c, APIReader: c, Region: "ru-central-1", Services: []string{"contacts"},
		NamespacePrefix: "tenant-", Publisher: brokenKafka{}, Acks: controller.NewAcks()}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: "unlucky"}}); err == nil {
		t.Fatal("a failed publish was no error")
	}
	var got crmv1alpha1.Tenant
	if err := c.Get(ctx, types.NamespacedName{Name: "unlucky"}, &got); err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, controller.CondReady)
	if ready == nil || ready.Reason != controller.ReasonPublishFailed || !strings.Contains(ready.Message, "connection refused") {
		t.Fatalf("Ready: %+v", ready)
	}
	if got.Status.ObservedGeneration != 0 {
		t.Fatalf("an unpublished generation was observed: %d", got.Status.ObservedGeneration)
	}
}
