// Package chart holds the tests of the rapport-operator Helm chart: they
// render charts/rapport-operator with the pinned helm CLI and apply the
// result to a real kube-apiserver.
package chart
