package controller_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/controller"
)

func TestRecordCarriesTheSpec(t *testing.T) {
	contacts := int64(1000)
	ten := &crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "branch", UID: "u-1", Generation: 4}, Spec: crmv1alpha1.TenantSpec{
		DisplayName: "Branch", Parent: "division", Region: "ru-central-1", Admins: []string{"ceo"},
		Quotas: crmv1alpha1.Quotas{Contacts: &contacts}, DeletionPolicy: crmv1alpha1.DeletionDelete, Locale: "ru", BaseCurrency: "RUB", DefaultCountry: "RU"}}
	key := &tenancyv1.ApiKey{Id: "0123456789abcdef", Sha256: []byte{1}}
	rec := controller.Record(ten, []string{"u-div", "u-hq"}, key)
	if rec.GetId() != "u-1" || rec.GetName() != "branch" || rec.GetGeneration() != 4 || rec.GetParentId() != "u-div" ||
		len(rec.GetParentChain()) != 2 || rec.GetQuotas().GetContacts() != 1000 || rec.GetQuotas().GetUsers() != 0 ||
		rec.GetDeletionPolicy() != tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE || rec.GetDeleting() ||
		rec.GetBaseCurrency() != "RUB" || len(rec.GetApiKeys()) != 1 {
		t.Fatalf("record: %v", rec)
	}
	// Deleting with policy Delete withdraws the key at once; Retain keeps
	// it for reading until the tombstone.
	now := metav1.Now()
	ten.DeletionTimestamp = &now
	if rec := controller.Record(ten, nil, key); !rec.GetDeleting() || len(rec.GetApiKeys()) != 0 || rec.GetParentId() != "" {
		t.Fatalf("deleting (Delete) record: %v", rec)
	}
	ten.Spec.DeletionPolicy = crmv1alpha1.DeletionRetain
	if rec := controller.Record(ten, nil, key); rec.GetDeletionPolicy() != tenancyv1.DeletionPolicy_DELETION_POLICY_RETAIN || len(rec.GetApiKeys()) != 1 {
		t.Fatalf("deleting (Retain) record: %v", rec)
	}
}

func TestAcksKeepTheNewestGeneration(t *testing.T) {
	a := controller.NewAcks()
	ack := func(gen int64, msg string) *tenancyv1.TenantAck {
		return &tenancyv1.TenantAck{TenantId: "t", Service: "contacts", Generation: gen, Ready: true, Message: msg}
	}
	if !a.Put(ack(2, "applied")) {
		t.Fatal("a first ack changed nothing")
	}
	if a.Put(ack(1, "applied")) || a.Put(ack(2, "applied")) {
		t.Fatal("an older or repeated ack changed the store")
	}
	if !a.Put(ack(2, "applied; suspended")) || a.Of("t")["contacts"].GetMessage() != "applied; suspended" {
		t.Fatal("a changed answer to the same generation was dropped")
	}
	a.Forget("t")
	if len(a.Of("t")) != 0 {
		t.Fatal("a forgotten tenant kept its acks")
	}
}

func TestPhase(t *testing.T) {
	cond := func(typ, status, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status), Reason: reason}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		t    crmv1alpha1.Tenant
		want string
	}{
		{"new", crmv1alpha1.Tenant{}, controller.PhasePending},
		{"ready", crmv1alpha1.Tenant{Status: crmv1alpha1.TenantStatus{Conditions: []metav1.Condition{cond("Ready", "True", "Ready")}}}, controller.PhaseReady},
		{"suspended", crmv1alpha1.Tenant{Spec: crmv1alpha1.TenantSpec{Suspended: true}, Status: crmv1alpha1.TenantStatus{Conditions: []metav1.Condition{cond("Ready", "True", "Suspended")}}}, controller.PhaseSuspended},
		{"waiting", crmv1alpha1.Tenant{Status: crmv1alpha1.TenantStatus{Conditions: []metav1.Condition{cond("Provisioned", "True", "Provisioned"), cond("Ready", "False", "WaitingForServices")}}}, controller.PhasePending},
		{"blocked", crmv1alpha1.Tenant{Status: crmv1alpha1.TenantStatus{Conditions: []metav1.Condition{cond("Provisioned", "False", "ParentNotFound"), cond("Ready", "False", "ParentNotFound")}}}, controller.PhaseBlocked},
		{"elsewhere", crmv1alpha1.Tenant{Status: crmv1alpha1.TenantStatus{Conditions: []metav1.Condition{cond("Ready", "False", "RegionMismatch")}}}, controller.PhaseRegionMismatch},
		{"deleting", crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}, controller.PhaseDeleting},
	} {
		if got := controller.Phase(&tc.t); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}
