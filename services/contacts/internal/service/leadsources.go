package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// TypeLeadSourcesChanged is the event of a tenant's new lead sources.
const TypeLeadSourcesChanged = catalog.LeadSourcesChanged

// LeadSourceRepository stores each tenant's lead sources.
type LeadSourceRepository interface {
	List(ctx context.Context, tenantID uuid.UUID) ([]domain.LeadSource, error)
	Replace(ctx context.Context, tenantID uuid.UUID, sources []domain.LeadSource, evs []events.Event) error
}

// LeadSourceList holds the use cases of a tenant's list of lead sources. (Not
// named LeadSources: a struct embedding it would have a field of that name
// hiding the method.)
type LeadSourceList interface {
	// LeadSources lists the tenant's lead sources; SetLeadSources replaces them.
	LeadSources(ctx context.Context) ([]domain.LeadSource, error)
	SetLeadSources(ctx context.Context, sources []domain.LeadSource) ([]domain.LeadSource, error)
}

// LeadSources lists the tenant's lead sources; anyone in the tenant may read them.
func (s *Service) LeadSources(ctx context.Context) ([]domain.LeadSource, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.leadSources.List(ctx, p.TenantID)
}

// SetLeadSources replaces the tenant's lead sources (admins only). Contacts
// keep the source they have, listed or not; new and changed sources must
// be listed.
func (s *Service) SetLeadSources(ctx context.Context, sources []domain.LeadSource) ([]domain.LeadSource, error) {
	p, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	sources, err = domain.CleanLeadSources(sources)
	if err != nil {
		return nil, err
	}
	msg := &contactsv1.LeadSourcesChanged{TenantId: p.TenantID.String(), ActorId: p.UserID}
	for _, src := range sources {
		msg.Sources = append(msg.Sources, &contactsv1.LeadSource{Value: src.Value, Label: src.Label})
	}
	ev, err := events.New(Topic, Source, TypeLeadSourcesChanged, p.TenantID, p.TenantID.String(), msg)
	if err != nil {
		return nil, err
	}
	if err := s.leadSources.Replace(ctx, p.TenantID, sources, []events.Event{ev}); err != nil {
		return nil, err
	}
	s.cache.forget(p.TenantID)
	return sources, nil
}
