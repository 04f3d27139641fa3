package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

// Field indexes the controller looks Tenants up by.
const (
	indexUID    = "metadata.uid"
	indexParent = "spec.parent"
)

// SetupWithManager registers the reconciler: it watches Tenants, the
// namespaces and Secrets it owns, each Tenant's parent (a child waits for
// it), and the acknowledgements events delivers.
func (r *TenantReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, acks <-chan event.TypedGenericEvent[*crmv1alpha1.Tenant], workers int) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &crmv1alpha1.Tenant{}, indexUID, func(o client.Object) []string {
		return []string{string(o.GetUID())}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &crmv1alpha1.Tenant{}, indexParent, func(o client.Object) []string {
		if p := o.(*crmv1alpha1.Tenant).Spec.Parent; p != "" {
			return []string{p}
		}
		return nil
	}); err != nil {
		return err
	}
	byUID := handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, t *crmv1alpha1.Tenant) []reconcile.Request {
		return r.requests(ctx, client.MatchingFields{indexUID: string(t.UID)})
	})
	children := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.requests(ctx, client.MatchingFields{indexParent: o.GetName()})
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&crmv1alpha1.Tenant{}).
		Owns(&corev1.Namespace{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if name := o.GetLabels()[LabelTenant]; name != "" {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
			}
			return nil
		})).
		Watches(&crmv1alpha1.Tenant{}, children).
		WatchesRawSource(source.Channel(acks, byUID)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("tenant").
		Complete(r)
}

func (r *TenantReconciler) requests(ctx context.Context, match client.MatchingFields) []reconcile.Request {
	var list crmv1alpha1.TenantList
	if err := r.List(ctx, &list, match); err != nil {
		return nil
	}
	out := make([]reconcile.Request, len(list.Items))
	for i, t := range list.Items {
		out[i] = reconcile.Request{NamespacedName: types.NamespacedName{Name: t.Name}}
	}
	return out
}
