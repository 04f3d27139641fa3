// Package scheme is the operator's runtime scheme: Kubernetes' built-in
// types and the operator's own.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

// New returns the scheme.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = crmv1alpha1.AddToScheme(s)
	return s
}
