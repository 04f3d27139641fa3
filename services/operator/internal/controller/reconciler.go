// Package controller holds the Tenant reconciler: it provisions a tenant's
// namespace and API credentials, publishes the tenant record every service
// applies, turns the services' acknowledgements into status, and drives
// deletion behind a finalizer.
package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/google/uuid"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

const (
	// Finalizer holds a Tenant until every service purged or archived it.
	Finalizer = "crm.rapport.io/tenant-data"
	// CredentialsSecret is the Secret in the tenant's namespace holding its API key.
	CredentialsSecret = "rapport-api-credentials"
	// SecretKeyAPIKey is the Secret's key of the API key.
	SecretKeyAPIKey = "apiKey"

	LabelTenant    = "crm.rapport.io/tenant"
	LabelTenantID  = "crm.rapport.io/tenant-id"
	LabelRegion    = "crm.rapport.io/region"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "rapport-operator"

	CondReady         = "Ready"
	CondProvisioned   = "Provisioned"
	CondServicesReady = "ServicesReady"

	ReasonRegionMismatch     = "RegionMismatch"
	ReasonWaitingForServices = "WaitingForServices"
	ReasonDeleting           = "Deleting"
	ReasonPublishFailed      = "PublishFailed"
)

// Publisher puts tenant records on crm.tenants.v1; *tenancy.Provisioner is one.
type Publisher interface {
	Publish(ctx context.Context, rec *tenancyv1.TenantRecord) error
	Tombstone(ctx context.Context, id uuid.UUID) error
}

// TenantReconciler reconciles Tenants.
type TenantReconciler struct {
	client.Client
	// APIReader reads past the cache, which holds only the operator's own
	// namespaces and Secrets.
	APIReader client.Reader
	// Region is the region this installation serves.
	Region string
	// Services must acknowledge every generation before a tenant is Ready.
	Services        []string
	NamespacePrefix string
	Publisher       Publisher
	Acks            *Acks

	// published is the newest generation this replica published per tenant
	// UID: a pass that reads a Tenant from a cache which has not seen the
	// previous pass's status yet must not publish the same generation again.
	published sync.Map
}

// publish puts the tenant's record for its generation on the topic, once.
func (r *TenantReconciler) publish(ctx context.Context, t *crmv1alpha1.Tenant, rec *tenancyv1.TenantRecord) error {
	if g, ok := r.published.Load(t.UID); ok && g.(int64) >= rec.GetGeneration() {
		return nil
	}
	if err := r.Publisher.Publish(ctx, rec); err != nil {
		return err
	}
	r.published.Store(t.UID, rec.GetGeneration())
	return nil
}

// +kubebuilder:rbac:groups=crm.rapport.io,resources=tenants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=crm.rapport.io,resources=tenants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=crm.rapport.io,resources=tenants/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one Tenant's world in line with its spec. With nothing
// changed it writes nothing: no status update, no record, no object.
func (r *TenantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	ctx, span := otel.Tracer("github.com/rapportcrm/rapport/services/operator").Start(ctx, "reconcile Tenant",
		trace.WithAttributes(attribute.String("k8s.tenant.name", req.Name)))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	var t crmv1alpha1.Tenant
	if err := r.Get(ctx, req.NamespacedName, &t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	span.SetAttributes(attribute.String("rapport.tenant_id", string(t.UID)), attribute.Int64("k8s.tenant.generation", t.Generation))
	before := t.Status.DeepCopy()

	if t.Spec.Region != r.Region {
		// Another region's tenant: nothing is provisioned here, not even a finalizer.
		msg := fmt.Sprintf("this installation serves region %q; the tenant is pinned to %q and is provisioned there", r.Region, t.Spec.Region)
		for _, c := range []string{CondProvisioned, CondServicesReady, CondReady} {
			setCondition(&t, c, metav1.ConditionFalse, ReasonRegionMismatch, msg)
		}
		if controllerutil.RemoveFinalizer(&t, Finalizer) {
			if err := r.Update(ctx, &t); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, r.writeStatus(ctx, &t, before)
	}
	if !t.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &t, before)
	}
	if controllerutil.AddFinalizer(&t, Finalizer) {
		if err := r.Update(ctx, &t); err != nil {
			return ctrl.Result{}, err
		}
	}

	chain, err := r.ancestors(ctx, &t)
	if ce := (*chainError)(nil); errors.As(err, &ce) {
		// The parent may appear later: its creation requeues this tenant.
		setCondition(&t, CondProvisioned, metav1.ConditionFalse, ce.reason, ce.msg)
		setCondition(&t, CondReady, metav1.ConditionFalse, ce.reason, ce.msg)
		return ctrl.Result{}, r.writeStatus(ctx, &t, before)
	} else if err != nil {
		return ctrl.Result{}, err
	}
	ns, err := r.ensureNamespace(ctx, &t)
	if err != nil {
		return ctrl.Result{}, r.blocked(ctx, &t, before, err)
	}
	key, err := r.ensureCredentials(ctx, &t, ns)
	if err != nil {
		return ctrl.Result{}, r.blocked(ctx, &t, before, err)
	}
	t.Status.Namespace = ns
	t.Status.CredentialsSecret = ns + "/" + CredentialsSecret
	if t.Status.ObservedGeneration < t.Generation {
		if err := r.publish(ctx, &t, Record(&t, chain, key)); err != nil {
			// Said in the status too; the error requeues with backoff.
			msg := fmt.Sprintf("cannot publish generation %d to %s: %v", t.Generation, tenancy.TopicTenants, err)
			setCondition(&t, CondProvisioned, metav1.ConditionFalse, ReasonPublishFailed, msg)
			setCondition(&t, CondReady, metav1.ConditionFalse, ReasonPublishFailed, msg)
			return ctrl.Result{}, errors.Join(fmt.Errorf("publish tenant record: %w", err), r.writeStatus(ctx, &t, before))
		}
		t.Status.ObservedGeneration = t.Generation
	}
	setCondition(&t, CondProvisioned, metav1.ConditionTrue, "Provisioned",
		fmt.Sprintf("namespace %s, credentials in %s, record generation %d published", ns, t.Status.CredentialsSecret, t.Status.ObservedGeneration))
	waiting := r.mergeAcks(&t, false)
	if len(waiting) > 0 {
		msg := fmt.Sprintf("waiting for %s to acknowledge generation %d", strings.Join(waiting, ", "), t.Status.ObservedGeneration)
		setCondition(&t, CondServicesReady, metav1.ConditionFalse, ReasonWaitingForServices, msg)
		setCondition(&t, CondReady, metav1.ConditionFalse, ReasonWaitingForServices, msg)
	} else {
		setCondition(&t, CondServicesReady, metav1.ConditionTrue, "Acknowledged",
			fmt.Sprintf("every service acknowledged generation %d", t.Status.ObservedGeneration))
		if t.Spec.Suspended {
			setCondition(&t, CondReady, metav1.ConditionTrue, "Suspended", "provisioned and suspended: its data is kept and every API call answers 403 until it is resumed")
		} else {
			setCondition(&t, CondReady, metav1.ConditionTrue, "Ready", "provisioned in every service")
		}
	}
	return ctrl.Result{}, r.writeStatus(ctx, &t, before)
}

// finalize publishes the deleting record, waits for every service to purge
// (Delete) or archive (Retain) the tenant, then tombstones its record,
// removes its namespace and drops the finalizer.
func (r *TenantReconciler) finalize(ctx context.Context, t *crmv1alpha1.Tenant, before *crmv1alpha1.TenantStatus) error {
	if !controllerutil.ContainsFinalizer(t, Finalizer) {
		return nil
	}
	if t.Status.ObservedGeneration < t.Generation {
		chain, _ := r.ancestors(ctx, t) // an ancestor may be gone already
		var key *tenancyv1.ApiKey
		if t.Status.Namespace != "" {
			key, _ = r.readCredentials(ctx, t.Status.Namespace)
		}
		if err := r.publish(ctx, t, Record(t, chain, key)); err != nil {
			return fmt.Errorf("publish deleting record: %w", err)
		}
		t.Status.ObservedGeneration = t.Generation
	}
	waiting := r.mergeAcks(t, true)
	what := "archiving (deletionPolicy Retain)"
	if t.Spec.DeletionPolicy == crmv1alpha1.DeletionDelete {
		what = "purging (deletionPolicy Delete)"
	}
	if len(waiting) > 0 {
		msg := fmt.Sprintf("%s the tenant's data: waiting for %s", what, strings.Join(waiting, ", "))
		setCondition(t, CondServicesReady, metav1.ConditionFalse, ReasonDeleting, msg)
		setCondition(t, CondReady, metav1.ConditionFalse, ReasonDeleting, msg)
		return r.writeStatus(ctx, t, before)
	}
	id, err := uuid.Parse(string(t.UID))
	if err != nil {
		return err
	}
	if err := r.Publisher.Tombstone(ctx, id); err != nil {
		return fmt.Errorf("tombstone tenant record: %w", err)
	}
	if t.Status.Namespace != "" {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.Status.Namespace}}
		if err := r.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete namespace %s: %w", ns.Name, err)
		}
	}
	controllerutil.RemoveFinalizer(t, Finalizer)
	if err := r.Update(ctx, t); err != nil {
		return err
	}
	r.Acks.Forget(string(t.UID))
	r.published.Delete(t.UID)
	return nil
}

// ancestors are the ids of t's parent, its parent, and so on to the root.
func (r *TenantReconciler) ancestors(ctx context.Context, t *crmv1alpha1.Tenant) ([]string, error) {
	var chain []string
	seen := map[string]bool{t.Name: true}
	for name := t.Spec.Parent; name != ""; {
		if seen[name] {
			return nil, &chainError{"ParentCycle", fmt.Sprintf("tenant %q is its own ancestor through parent %q", t.Name, name)}
		}
		seen[name] = true
		var p crmv1alpha1.Tenant
		if err := r.Get(ctx, types.NamespacedName{Name: name}, &p); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, missingParent(name, t.Name)
			}
			return nil, err
		}
		if p.Spec.Region != t.Spec.Region {
			return nil, &chainError{"ParentInOtherRegion", fmt.Sprintf("parent tenant %q is in region %q, not %q", name, p.Spec.Region, t.Spec.Region)}
		}
		chain = append(chain, string(p.UID))
		name = p.Spec.Parent
	}
	return chain, nil
}

// provisionError is a conflict the admin must resolve; it is shown in status.
type provisionError struct{ reason, msg string }

func (e *provisionError) Error() string { return e.msg }

func (r *TenantReconciler) blocked(ctx context.Context, t *crmv1alpha1.Tenant, before *crmv1alpha1.TenantStatus, err error) error {
	pe := (*provisionError)(nil)
	if !errors.As(err, &pe) {
		return err
	}
	setCondition(t, CondProvisioned, metav1.ConditionFalse, pe.reason, pe.msg)
	setCondition(t, CondReady, metav1.ConditionFalse, pe.reason, pe.msg)
	return r.writeStatus(ctx, t, before)
}

func (r *TenantReconciler) labels(t *crmv1alpha1.Tenant) map[string]string {
	return map[string]string{LabelTenant: t.Name, LabelTenantID: string(t.UID), LabelRegion: t.Spec.Region, LabelManagedBy: ManagedBy}
}

// ensureNamespace creates the tenant's namespace, or fixes its labels; one
// that exists but is not this tenant's is a conflict.
func (r *TenantReconciler) ensureNamespace(ctx context.Context, t *crmv1alpha1.Tenant) (string, error) {
	name := r.NamespacePrefix + t.Name
	var ns corev1.Namespace
	err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, &ns)
	switch {
	case apierrors.IsNotFound(err):
		ns = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: r.labels(t)}}
		if err := controllerutil.SetControllerReference(t, &ns, r.Scheme()); err != nil {
			return "", err
		}
		if err := r.Create(ctx, &ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", err
		}
		return name, nil
	case err != nil:
		return "", err
	}
	if !metav1.IsControlledBy(&ns, t) {
		return "", &provisionError{"NamespaceConflict", fmt.Sprintf("namespace %s exists and does not belong to this tenant", name)}
	}
	want := r.labels(t)
	changed := false
	for k, v := range want {
		if ns.Labels[k] != v {
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[k], changed = v, true
		}
	}
	if changed {
		return name, r.Update(ctx, &ns)
	}
	return name, nil
}

// ensureCredentials creates the tenant's API key once. An existing Secret is
// never rewritten: a key is rotated only by deleting the Secret on purpose.
func (r *TenantReconciler) ensureCredentials(ctx context.Context, t *crmv1alpha1.Tenant, ns string) (*tenancyv1.ApiKey, error) {
	key, err := r.readCredentials(ctx, ns)
	if err == nil || !apierrors.IsNotFound(err) {
		return key, err
	}
	secret, entry, err := tenancy.IssueAPIKey()
	if err != nil {
		return nil, err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CredentialsSecret, Namespace: ns, Labels: r.labels(t)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{SecretKeyAPIKey: []byte(secret), "tenantId": []byte(t.UID)},
	}
	if err := r.Create(ctx, s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created meanwhile by another pass: use that one.
			return r.readCredentials(ctx, ns)
		}
		return nil, err
	}
	return entry, nil
}

func (r *TenantReconciler) readCredentials(ctx context.Context, ns string) (*tenancyv1.ApiKey, error) {
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: CredentialsSecret}, &s); err != nil {
		return nil, err
	}
	key, err := tenancy.APIKeyRecord(string(s.Data[SecretKeyAPIKey]))
	if err != nil {
		return nil, &provisionError{"CredentialsInvalid", fmt.Sprintf("Secret %s/%s holds no valid %s (%v); it is never overwritten: delete it to issue a new key", ns, CredentialsSecret, SecretKeyAPIKey, err)}
	}
	return key, nil
}

// mergeAcks folds the services' acknowledgements into status.services and
// returns the services still to answer the observed generation (with
// deleted set, for a deleting tenant).
func (r *TenantReconciler) mergeAcks(t *crmv1alpha1.Tenant, deleting bool) (waiting []string) {
	gen := t.Status.ObservedGeneration
	acks := r.Acks.Of(string(t.UID))
	out := make([]crmv1alpha1.ServiceStatus, 0, len(r.Services))
	for _, name := range r.Services {
		st := crmv1alpha1.ServiceStatus{Name: name, Message: "no acknowledgement yet"}
		if i := slices.IndexFunc(t.Status.Services, func(s crmv1alpha1.ServiceStatus) bool { return s.Name == name }); i >= 0 {
			st = t.Status.Services[i]
		}
		if ack := acks[name]; ack != nil && ack.GetGeneration() >= st.AcknowledgedGeneration {
			st.AcknowledgedGeneration = ack.GetGeneration()
			st.Ready = ack.GetReady() && (!deleting || ack.GetDeleted())
			st.Message = ack.GetMessage()
		}
		if st.AcknowledgedGeneration < gen {
			st.Ready = false
		}
		if !st.Ready {
			waiting = append(waiting, name)
		}
		out = append(out, st)
	}
	t.Status.Services = out
	return waiting
}

func setCondition(t *crmv1alpha1.Tenant, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: t.Generation})
}

// writeStatus updates the status subresource only when it changed.
func (r *TenantReconciler) writeStatus(ctx context.Context, t *crmv1alpha1.Tenant, before *crmv1alpha1.TenantStatus) error {
	if equality.Semantic.DeepEqual(before, &t.Status) {
		return nil
	}
	return r.Status().Update(ctx, t)
}
