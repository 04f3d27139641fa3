//go:build tools

// Package tools pins kube-apiserver v1.36.3 for envtest: make
// envtest-assets builds it from the Go module proxy (nothing else here may
// be downloaded). k8s.io/kubernetes maps its k8s.io/* staging modules to
// ./staging/..., so go.mod replaces each with its published v0.36.3.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
