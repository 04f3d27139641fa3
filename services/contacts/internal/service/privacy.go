package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// TypeErased is the event of an erasure.
const TypeErased = catalog.ContactErased

// Privacy holds the use cases of a person's rights over their data.
type Privacy interface {
	// EraseContact removes the person's personal data for real.
	EraseContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) (*domain.Contact, error)
	// ExportContact returns everything held about the person.
	ExportContact(ctx context.Context, id uuid.UUID) (DataExport, error)
}

// DataExport is everything the service holds about a person.
type DataExport struct {
	Contact    *domain.Contact
	Activities []*domain.Activity
	Timeline   []domain.TimelineEntry
	// Merged are the records merged into the contact, kept so that a
	// merge can be undone.
	Merged     []json.RawMessage
	ExportedAt time.Time
}

var errAdminOnly = apperr.New(apperr.KindForbidden, "admin-only",
	"only the tenant's admins may do this: erase or export a person's data, define custom fields or replace the lead sources")

func admin(ctx context.Context) (auth.Principal, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return p, err
	}
	if !p.HasRole(auth.RoleAdmin) {
		return p, errAdminOnly
	}
	return p, nil
}

// EraseContact removes the person's personal data for real (the record,
// its channel keys, its activities and timeline) and publishes
// crm.contact.erased so that every other service drops what it holds.
// ifMatch must hold for the contact's version, as for any other change.
func (s *Service) EraseContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) (*domain.Contact, error) {
	p, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.repo.Erase(ctx, p.TenantID, id, func(c *domain.Contact) ([]events.Event, error) {
		if err := ifMatch.Check(c.Version()); err != nil {
			return nil, err
		}
		if _, err := c.Erase(s.now()); err != nil {
			return nil, err
		}
		return messages.Event(TypeErased, p.TenantID, c.ID(), &contactsv1.ContactErased{Id: c.ID().String(),
			TenantId: p.TenantID.String(), ActorId: p.UserID, ErasedAt: timestamppb.New(c.ErasedAt())})
	})
	// A merged contact's id answers as on every other route: its data is
	// in merged_into, which is the contact to erase.
	return c, s.mergedInto(ctx, p, id, err)
}

// ExportContact returns everything the service holds about the person.
func (s *Service) ExportContact(ctx context.Context, id uuid.UUID) (DataExport, error) {
	p, err := admin(ctx)
	if err != nil {
		return DataExport{}, err
	}
	c, err := s.repo.Get(ctx, p.TenantID, id)
	if err != nil {
		return DataExport{}, s.mergedInto(ctx, p, id, err)
	}
	as, es, err := s.activities.Held(ctx, p.TenantID, id)
	if err != nil {
		return DataExport{}, err
	}
	merged, err := s.repo.MergedRecords(ctx, p.TenantID, id)
	return DataExport{Contact: c, Activities: as, Timeline: es, Merged: merged, ExportedAt: s.now().UTC()}, err
}
