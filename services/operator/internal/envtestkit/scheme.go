package envtestkit

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rapportcrm/rapport/services/operator/internal/scheme"
)

// Scheme knows Kubernetes' built-in types and the operator's.
func Scheme() *runtime.Scheme { return scheme.New() }
