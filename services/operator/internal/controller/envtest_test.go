package controller_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rapportcrm/rapport/services/operator/internal/envtestkit"
)

// The operator's tests run against a real kube-apiserver and etcd, built
// from the module proxy: this one proves the pair starts and serves.
func TestTheRealAPIServerServes(t *testing.T) {
	_, c := envtestkit.Start(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-demo", Labels: map[string]string{"crm.rapport.io/tenant": "demo"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	var got corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: "tenant-demo"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Labels["crm.rapport.io/tenant"] != "demo" || got.UID == "" {
		t.Errorf("namespace as stored: %+v", got.ObjectMeta)
	}
	// The server validates: a name that is no DNS label is refused.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "Not_A_Label"}}); err == nil {
		t.Error("an invalid namespace name was accepted")
	}
}
