package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeletionPolicy says what deleting a Tenant does to its data.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

// Deletion policies.
const (
	// DeletionRetain keeps the tenant's data, read-only.
	DeletionRetain DeletionPolicy = "Retain"
	// DeletionDelete purges the tenant's rows in every service.
	DeletionDelete DeletionPolicy = "Delete"
)

// Quotas bound what a tenant may hold and do; an absent quota is no limit.
type Quotas struct {
	// +kubebuilder:validation:Minimum=1
	// +optional
	Users *int64 `json:"users,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +optional
	Contacts *int64 `json:"contacts,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +optional
	StorageBytes *int64 `json:"storageBytes,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +optional
	RequestsPerSecond *int64 `json:"requestsPerSecond,omitempty"`
}

// TenantSpec is the department an admin asks for.
type TenantSpec struct {
	// +kubebuilder:validation:MaxLength=200
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// Parent is the name of the Tenant this one belongs to (an enterprise's
	// department): its admins may read this tenant, and analytics roll it up.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Parent string `json:"parent,omitempty"`
	// Region pins the tenant's data to one installation (data residency),
	// e.g. ru-central-1; it never changes.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable: a tenant's data stays in its region"
	Region string `json:"region"`
	// Admins are the users (subjects of their tokens) who administer the tenant.
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Admins []string `json:"admins,omitempty"`
	// +optional
	Quotas Quotas `json:"quotas,omitempty"`
	// Suspended tenants keep their data; every API call answers 403.
	// +optional
	Suspended bool `json:"suspended,omitempty"`
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// Locale of the tenant's defaults (stage names, loss reasons), e.g. ru or en.
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[A-Z]{2})?$`
	// +optional
	Locale string `json:"locale,omitempty"`
	// BaseCurrency is the ISO 4217 currency of the tenant's boards and reports.
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	// +optional
	BaseCurrency string `json:"baseCurrency,omitempty"`
	// DefaultCountry (ISO 3166-1 alpha-2) reads phone numbers written nationally.
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	// +optional
	DefaultCountry string `json:"defaultCountry,omitempty"`
}

// ServiceStatus is one service's acknowledgement of the tenant.
type ServiceStatus struct {
	Name string `json:"name"`
	// AcknowledgedGeneration is the generation the service last applied.
	AcknowledgedGeneration int64 `json:"acknowledgedGeneration"`
	Ready                  bool  `json:"ready"`
	// +optional
	Message string `json:"message,omitempty"`
}

// TenantStatus is what the operator observed.
type TenantStatus struct {
	// Conditions: Ready, Provisioned, ServicesReady.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=name
	// +optional
	Services []ServiceStatus `json:"services,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
}

// Tenant is an enterprise department (or a whole enterprise) the platform
// provisions in every service.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.parent) || self.spec.parent != self.metadata.name",message="a tenant cannot be its own parent"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 56 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a tenant's name is a DNS label of at most 56 characters: its namespace is tenant-<name>"
type Tenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TenantSpec `json:"spec"`
	// +optional
	Status TenantStatus `json:"status,omitempty"`
}

// TenantList lists Tenants.
// +kubebuilder:object:root=true
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}

func init() { SchemeBuilder.Register(&Tenant{}, &TenantList{}) }
