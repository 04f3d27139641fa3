package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// assets is where make envtest-assets builds kube-apiserver and etcd
// (KUBEBUILDER_ASSETS overrides it).
func assets(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", ".cache", "envtest", "k8s-1.36.3")
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		t.Fatalf("no envtest binaries in %s: run make envtest-assets (it builds them from the Go module proxy)", dir)
	}
	return dir
}

// The operator's tests run against a real kube-apiserver and etcd, built
// from the module proxy: this one proves the pair starts and serves.
func TestTheRealAPIServerServes(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: assets(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
