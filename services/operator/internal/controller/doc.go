// Package controller will hold the Tenant reconciler (issue 5). For now it
// holds the envtest harness that runs the operator's tests against a real
// kube-apiserver and etcd.
package controller
