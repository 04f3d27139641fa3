// Package chart holds the tests of the Helm charts: charts/rapport-operator
// and the umbrella charts/rapport, which depends on it. They render the
// charts with the pinned helm CLI and apply the result to a real
// kube-apiserver.
package chart
