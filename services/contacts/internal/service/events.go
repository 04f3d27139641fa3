package service

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Topic and event types this service publishes.
const (
	Topic       = "crm.contacts.events.v1"
	Source      = "/rapport/contacts"
	TypeCreated = "crm.contact.created"
	TypeUpdated = "crm.contact.updated"
	TypeDeleted = "crm.contact.deleted"
)

func contactMessage(c *domain.Contact) *contactsv1.Contact {
	f := c.Fields()
	return &contactsv1.Contact{
		Id: c.ID().String(), TenantId: c.TenantID().String(),
		FirstName: f.FirstName, LastName: f.LastName, Emails: f.Emails, Phones: f.Phones,
		OwnerId: f.OwnerID, Tags: f.Tags, Version: c.Version(),
		CreatedAt: timestamppb.New(c.CreatedAt()), UpdatedAt: timestamppb.New(c.UpdatedAt()),
	}
}

func created(c *domain.Contact, actor string) ([]events.Event, error) {
	ev, err := events.New(Topic, Source, TypeCreated, c.TenantID(), c.ID().String(),
		&contactsv1.ContactCreated{Contact: contactMessage(c), ActorId: actor})
	return []events.Event{ev}, err
}

func updated(c *domain.Contact, actor string, changed []string) ([]events.Event, error) {
	ev, err := events.New(Topic, Source, TypeUpdated, c.TenantID(), c.ID().String(),
		&contactsv1.ContactUpdated{Contact: contactMessage(c), ActorId: actor, ChangedFields: changed})
	return []events.Event{ev}, err
}

func deleted(c *domain.Contact, actor string) ([]events.Event, error) {
	ev, err := events.New(Topic, Source, TypeDeleted, c.TenantID(), c.ID().String(),
		&contactsv1.ContactDeleted{Id: c.ID().String(), TenantId: c.TenantID().String(), ActorId: actor,
			Version: c.Version(), DeletedAt: timestamppb.Now()})
	return []events.Event{ev}, err
}
