// Package envtestkit starts the operator's tests against a real
// kube-apiserver and etcd, the ones make envtest-assets builds from the Go
// module proxy into .cache (KUBEBUILDER_ASSETS overrides where).
package envtestkit

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// root is the repository's root.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// CRDs is the chart's folder of CustomResourceDefinitions.
func CRDs() string { return filepath.Join(root(), "charts", "rapport-operator", "crds") }

func assets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(root(), ".cache", "envtest", "k8s-1.36.3")
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		t.Fatalf("no envtest binaries in %s: run make envtest-assets (it builds them from the Go module proxy)", dir)
	}
	return dir
}

// Start runs a kube-apiserver and etcd with the chart's CRDs installed
// (and the CRD files or folders of crds, e.g. KEDA's) until the test ends,
// and returns a client that knows the operator's types.
func Start(t testing.TB, crds ...string) (*rest.Config, client.Client) {
	t.Helper()
	env := &envtest.Environment{BinaryAssetsDirectory: assets(t), CRDDirectoryPaths: append([]string{CRDs()}, crds...), ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}
