package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/event"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	crmv1alpha1 "github.com/rapportcrm/rapport/services/operator/api/v1alpha1"
)

// Acks holds, per tenant and service, the newest acknowledgement seen on
// crm.tenant-acks.v1. It is rebuilt from the topic when the operator starts;
// what the topic no longer holds survives in the Tenants' status.services.
type Acks struct {
	mu   sync.Mutex
	acks map[string]map[string]*tenancyv1.TenantAck
}

// NewAcks returns an empty store.
func NewAcks() *Acks { return &Acks{acks: map[string]map[string]*tenancyv1.TenantAck{}} }

// Put keeps ack unless a newer generation of the same service is known; it
// reports whether the store changed.
func (a *Acks) Put(ack *tenancyv1.TenantAck) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	bySvc := a.acks[ack.GetTenantId()]
	if bySvc == nil {
		bySvc = map[string]*tenancyv1.TenantAck{}
		a.acks[ack.GetTenantId()] = bySvc
	}
	old := bySvc[ack.GetService()]
	if old != nil && (old.GetGeneration() > ack.GetGeneration() ||
		old.GetGeneration() == ack.GetGeneration() && old.GetReady() == ack.GetReady() && old.GetDeleted() == ack.GetDeleted() && old.GetMessage() == ack.GetMessage()) {
		return false
	}
	bySvc[ack.GetService()] = ack
	return true
}

// Of is the newest ack of each service for tenant id.
func (a *Acks) Of(id string) map[string]*tenancyv1.TenantAck {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]*tenancyv1.TenantAck, len(a.acks[id]))
	for s, ack := range a.acks[id] {
		out[s] = ack
	}
	return out
}

// Forget drops a deleted tenant's acks.
func (a *Acks) Forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.acks, id)
}

// AckFollower reads crm.tenant-acks.v1 into Acks and asks for a reconcile of
// each tenant whose acknowledgements changed. It runs on the leader only,
// beside the controller it feeds.
type AckFollower struct {
	Brokers []string
	Acks    *Acks
	Log     *slog.Logger
	// Events goes to the controller's channel source; the object carries only
	// the tenant's UID, which the controller maps back to its name.
	Events chan event.TypedGenericEvent[*crmv1alpha1.Tenant]
}

// Start follows the topic until ctx ends, waiting out a broker that is not
// there yet.
func (f *AckFollower) Start(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for {
		err := tenancy.WatchAcks(ctx, f.Brokers, func(ack *tenancyv1.TenantAck) {
			if !f.Acks.Put(ack) {
				return
			}
			t := &crmv1alpha1.Tenant{}
			t.UID = typesUID(ack.GetTenantId())
			select {
			case f.Events <- event.TypedGenericEvent[*crmv1alpha1.Tenant]{Object: t}:
			case <-ctx.Done():
			}
		})
		if err == nil {
			f.Log.InfoContext(ctx, "operator: following "+tenancy.TopicAcks)
			<-ctx.Done()
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		f.Log.WarnContext(ctx, "operator: cannot follow "+tenancy.TopicAcks+" yet", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
