package controller

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/types"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

func typesUID(s string) types.UID { return types.UID(s) }

// Record is the tenant record the services apply: the Tenant's spec, its
// ancestors' ids (nearest first), the hash of its API key and whether it is
// being deleted. Its generation is the Tenant's: the API server raises it for
// every change of the spec and when deletion starts.
func Record(t *crmv1alpha1.Tenant, chain []string, apiKey *tenancyv1.ApiKey) *tenancyv1.TenantRecord {
	s := t.Spec
	rec := &tenancyv1.TenantRecord{
		Id:             string(t.UID),
		Name:           t.Name,
		DisplayName:    s.DisplayName,
		ParentChain:    chain,
		Region:         s.Region,
		Admins:         s.Admins,
		Suspended:      s.Suspended,
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_RETAIN,
		Deleting:       !t.DeletionTimestamp.IsZero(),
		Generation:     t.Generation,
		Locale:         s.Locale,
		BaseCurrency:   s.BaseCurrency,
		DefaultCountry: s.DefaultCountry,
		Quotas: &tenancyv1.Quotas{
			Users:             deref(s.Quotas.Users),
			Contacts:          deref(s.Quotas.Contacts),
			StorageBytes:      deref(s.Quotas.StorageBytes),
			RequestsPerSecond: deref(s.Quotas.RequestsPerSecond),
		},
		UpdatedAt: timestamppb.Now(),
	}
	if len(chain) > 0 {
		rec.ParentId = chain[0]
	}
	if s.DeletionPolicy == crmv1alpha1.DeletionDelete {
		rec.DeletionPolicy = tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE
	}
	// A tenant whose data is purged loses its key with the deleting record;
	// a retained one can still read until the record is tombstoned.
	if apiKey != nil && !(rec.Deleting && rec.DeletionPolicy == tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE) {
		rec.ApiKeys = []*tenancyv1.ApiKey{apiKey}
	}
	return rec
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// chainError says why a tenant's ancestry cannot be resolved.
type chainError struct{ reason, msg string }

func (e *chainError) Error() string { return e.msg }

func missingParent(name, of string) error {
	return &chainError{"ParentNotFound", fmt.Sprintf("parent tenant %q of %q does not exist", name, of)}
}
