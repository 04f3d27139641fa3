// Package v1alpha1 is the operator's API: the Tenant resource of DESIGN.md
// §9 (group crm.rapport.io, cluster-scoped), an enterprise department the
// platform provisions end to end.
// +kubebuilder:object:generate=true
// +groupName=crm.rapport.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is crm.rapport.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "crm.rapport.io", Version: "v1alpha1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
