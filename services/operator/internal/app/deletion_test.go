package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/telemetry/telemetrytest"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
	"github.com/rapportcrm/rapport/services/operator/internal/app"
	"github.com/rapportcrm/rapport/services/operator/internal/controller"
)

// waitGone waits until the Tenant object no longer exists.
func (r *rig) waitGone(name string) {
	r.t.Helper()
	eventually(r.t, 30*time.Second, func() (bool, string) {
		t, err := r.get(name)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("%v %+v", err, t.Status.Conditions)
	})
}

func (r *rig) delete(name string) {
	r.t.Helper()
	t, err := r.get(name)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.k8s.Delete(context.Background(), t); err != nil {
		r.t.Fatal(err)
	}
}

// Deleting a Tenant purges (Delete) or keeps read-only (Retain) its rows in
// the services, tombstones its record, removes its namespace and lets the
// object go.
func TestDeletionPolicies(t *testing.T) {
	r := newRig(t)
	r.contacts.Start()
	ids := map[string]types.UID{}
	keys := map[string]string{}
	for _, p := range []crmv1alpha1.DeletionPolicy{crmv1alpha1.DeletionDelete, crmv1alpha1.DeletionRetain} {
		name := "dept-" + strings.ToLower(string(p))
		ten := r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: crmv1alpha1.TenantSpec{DeletionPolicy: p}})
		r.waitReady(name)
		ids[name] = ten.UID
		var secret corev1.Secret
		if err := r.k8s.Get(context.Background(), types.NamespacedName{Namespace: "tenant-" + name, Name: controller.CredentialsSecret}, &secret); err != nil {
			t.Fatal(err)
		}
		keys[name] = string(secret.Data[controller.SecretKeyAPIKey])
		tok := r.token(ten.UID, "admin")
		r.call(http.MethodPost, "/v1/contacts", tok, map[string]any{"first_name": "Anna", "last_name": string(p)}).Want(t, http.StatusCreated)
	}
	for name := range ids {
		r.delete(name)
	}
	for name, id := range ids {
		r.waitGone(name)
		recs := r.records()[string(id)]
		if len(recs) < 3 || recs[len(recs)-1] != nil || !recs[len(recs)-2].GetDeleting() {
			t.Fatalf("%s: records on the topic end %v, want a deleting record then a tombstone", name, recs)
		}
		if g := recs[len(recs)-2].GetGeneration(); g <= recs[0].GetGeneration() {
			t.Fatalf("%s: the deleting record has generation %d, no newer than the first %d", name, g, recs[0].GetGeneration())
		}
		var ns corev1.Namespace
		err := r.k8s.Get(context.Background(), types.NamespacedName{Name: "tenant-" + name}, &ns)
		// envtest runs no namespace controller, so a deleted namespace stays Terminating.
		if err == nil && ns.DeletionTimestamp.IsZero() {
			t.Fatalf("%s: namespace not deleted", name)
		}
	}
	if n := r.count(ids["dept-delete"], "select count(*) from contacts"); n != 0 {
		t.Fatalf("Delete kept %d contacts", n)
	}
	if n := r.count(ids["dept-retain"], "select count(*) from contacts"); n != 1 {
		t.Fatalf("Retain kept %d contacts, want 1", n)
	}
	if n := r.count(ids["dept-retain"], "select count(*) from tenants where state = 'retained'"); n != 1 {
		t.Fatal("the retained tenant is not marked read-only in contacts")
	}
	// The purged tenant's token no longer reaches anything, nor, through
	// the gateway, do the deleted tenants' API keys.
	got := r.call(http.MethodGet, "/v1/contacts", r.token(ids["dept-delete"], "admin"), nil)
	if got.Status != http.StatusForbidden {
		t.Fatalf("a deleted tenant's token: %d %s", got.Status, got.Raw)
	}
	r.gateway.Start()
	for name, key := range keys {
		got := r.viaGateway(http.MethodGet, "/v1/contacts", key, nil)
		if got.Status != http.StatusUnauthorized {
			t.Fatalf("%s's API key after deletion: %d %s", name, got.Status, got.Raw)
		}
	}
}

// A service that is down when a tenant is created or deleted delays it;
// its acknowledgement arrives when it comes back, and nothing is lost.
func TestAServiceThatAcknowledgesLate(t *testing.T) {
	r := newRig(t)
	r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Spec: crmv1alpha1.TenantSpec{DeletionPolicy: crmv1alpha1.DeletionDelete}})
	ten := r.waitCondition("late", "Ready", metav1.ConditionFalse, controller.ReasonWaitingForServices)
	if c := ten.Status.Conditions; !slices.ContainsFunc(c, func(c metav1.Condition) bool {
		return c.Type == "ServicesReady" && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "contacts")
	}) {
		t.Fatalf("ServicesReady does not name the missing service: %+v", c)
	}
	r.contacts.Start()
	r.waitReady("late")

	// Deleting while contacts is down: the tenant waits, Terminating, and
	// says for whom.
	r.contacts.Stop()
	r.delete("late")
	ten = r.waitCondition("late", "Ready", metav1.ConditionFalse, controller.ReasonDeleting)
	if ten.DeletionTimestamp.IsZero() || !strings.Contains(conditionMessage(ten, "Ready"), "waiting for contacts") {
		t.Fatalf("deleting tenant: %+v", ten.Status.Conditions)
	}
	r.contacts.Start()
	r.waitGone("late")
}

func conditionMessage(t *crmv1alpha1.Tenant, typ string) string {
	for _, c := range t.Status.Conditions {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

// A tenant of another region is not provisioned here: no finalizer, no
// namespace, no record.
func TestRegionMismatch(t *testing.T) {
	r := newRig(t)
	ten := r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "far-away"}, Spec: crmv1alpha1.TenantSpec{Region: "eu-west-1"}})
	got := r.waitCondition("far-away", "Ready", metav1.ConditionFalse, controller.ReasonRegionMismatch)
	if !strings.Contains(conditionMessage(got, "Ready"), region) || len(got.Finalizers) != 0 {
		t.Fatalf("region mismatch: %+v finalizers %v", got.Status.Conditions, got.Finalizers)
	}
	var ns corev1.Namespace
	if err := r.k8s.Get(context.Background(), types.NamespacedName{Name: "tenant-far-away"}, &ns); !apierrors.IsNotFound(err) {
		t.Fatalf("a namespace was made for another region's tenant: %v", err)
	}
	if recs := r.records()[string(ten.UID)]; len(recs) != 0 {
		t.Fatalf("another region's tenant was published: %v", recs)
	}
	// It deletes at once: nothing here holds it.
	r.delete("far-away")
	r.waitGone("far-away")
}

// A child names its parent; the record carries the chain of ancestors, and
// a child created before its parent waits for it.
func TestParentChain(t *testing.T) {
	r := newRig(t)
	r.contacts.Start()
	r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "branch"}, Spec: crmv1alpha1.TenantSpec{Parent: "division"}})
	r.waitCondition("branch", "Ready", metav1.ConditionFalse, "ParentNotFound")
	hq := r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "hq"}, Spec: crmv1alpha1.TenantSpec{Admins: []string{"ceo"}}})
	div := r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "division"}, Spec: crmv1alpha1.TenantSpec{Parent: "hq"}})
	branch := r.waitReady("branch")
	r.waitReady("division")
	r.waitReady("hq")
	recs := r.records()
	last := func(id types.UID) []string {
		rs := recs[string(id)]
		if len(rs) == 0 {
			t.Fatalf("no record for %s", id)
		}
		return rs[len(rs)-1].GetParentChain()
	}
	if got, want := last(branch.UID), []string{string(div.UID), string(hq.UID)}; !slices.Equal(got, want) {
		t.Fatalf("branch's chain %v, want %v", got, want)
	}
	if got := last(hq.UID); len(got) != 0 {
		t.Fatalf("a root has ancestors: %v", got)
	}
	// HQ's admin reads the branch's contacts; the branch's own token writes them.
	r.call(http.MethodPost, "/v1/contacts", r.token(branch.UID, "rep"), map[string]any{"first_name": "Ivan", "last_name": "Branch"}).Want(t, http.StatusCreated)
	eventually(t, 10*time.Second, func() (bool, string) {
		got := r.call(http.MethodGet, "/v1/contacts", r.token(hq.UID, "admin"), nil, "Rapport-Tenant", string(branch.UID))
		return got.Status == http.StatusOK && strings.Contains(string(got.Raw), "Branch"), string(got.Raw)
	})
	r.call(http.MethodGet, "/v1/contacts", r.token(hq.UID, "rep"), nil, "Rapport-Tenant", string(branch.UID)).Want(t, http.StatusNotFound)
}

// The operator serves its health probes and metrics, and traces each
// reconcile into the record it publishes.
func TestProbesMetricsAndTraces(t *testing.T) {
	spans := testenv.Spans(t)
	r := newRig(t)
	r.contacts.Start()
	measured := r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "measured"}})
	r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}, Spec: crmv1alpha1.TenantSpec{Region: "us-east-1"}})
	r.waitReady("measured")
	r.waitCondition("elsewhere", "Ready", metav1.ConditionFalse, controller.ReasonRegionMismatch)
	// The record's send is a child of the reconcile that published it.
	reconciles := map[trace.SpanID]bool{}
	for _, s := range spans.Ended() {
		if s.Name() == "reconcile Tenant" && slices.Contains(s.Attributes(), attribute.String("rapport.tenant_id", string(measured.UID))) {
			reconciles[s.SpanContext().SpanID()] = true
		}
	}
	if !slices.ContainsFunc(spans.Ended(), func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == "send "+tenancy.TopicTenants && s.SpanKind() == trace.SpanKindProducer && reconciles[s.Parent().SpanID()]
	}) {
		t.Fatalf("no send of the record under one of %d reconcile spans of the tenant", len(reconciles))
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		eventually(t, 10*time.Second, func() (bool, string) {
			resp, err := http.Get("http://" + r.health + path)
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, path + ": " + resp.Status
		})
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + r.metrics + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(raw)
		for _, want := range []string{
			`rapport_tenants{phase="Ready",region="ru-central-1"} 1`,
			`rapport_tenants{phase="RegionMismatch",region="ru-central-1"} 1`,
			`controller_runtime_reconcile_total{controller="tenant",result="success"}`,
			`controller_runtime_reconcile_time_seconds_bucket{controller="tenant"`,
			`controller_runtime_reconcile_errors_total{controller="tenant"}`,
		} {
			if !strings.Contains(body, want) {
				return false, "metrics lack " + want
			}
		}
		// What the operator serves passes `promtool check metrics`.
		telemetrytest.Lint(t, body)
		return true, ""
	})
}

// Two replicas elect one leader; when it stops, the other takes over and
// provisions what comes next.
func TestLeaderElectionHandsOver(t *testing.T) {
	r := newRig(t)
	r.contacts.Start()
	leader := func() string {
		var lease coordinationv1.Lease
		if err := r.k8s.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: app.LeaderElectionID}, &lease); err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}
	// The first replica leads before the standby starts.
	var first string
	eventually(t, 30*time.Second, func() (bool, string) {
		first = leader()
		return first != "", "no replica holds the lease"
	})
	port := testenv.FreePorts(t, 2)
	standbyHealth := fmt.Sprintf("127.0.0.1:%d", port+1)
	r.startOperator(fmt.Sprintf("127.0.0.1:%d", port), standbyHealth)
	r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "first"}})
	r.waitReady("first")
	// The standby is ready (its informers synced) without leading.
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + standbyHealth + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if h := leader(); h != first {
		t.Fatalf("the lease moved from %s to %s while its holder ran", first, h)
	}
	r.stopFirst()
	eventually(t, 30*time.Second, func() (bool, string) {
		h := leader()
		return h != "" && h != first, "lease held by " + h
	})
	r.create(&crmv1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "second"}})
	r.waitReady("second")
}
