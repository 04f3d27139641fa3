// Package messages makes the events the contacts service publishes from its
// entities: the protobuf messages of crm.contacts.events.v1 in their
// envelope. The use cases and the import engine publish through it.
package messages

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Source is the events' source.
const Source = "/rapport/contacts"

// IDOrEmpty is id as events carry it: "" for none.
func IDOrEmpty(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

// Contact is a contact as events carry it.
func Contact(c *domain.Contact) *contactsv1.Contact {
	f := c.Fields()
	m := &contactsv1.Contact{
		Id: c.ID().String(), TenantId: c.TenantID().String(),
		FirstName: f.FirstName, LastName: f.LastName, Emails: f.Emails, Phones: f.Phones,
		OwnerId: f.OwnerID, Tags: f.Tags, Version: c.Version(),
		CreatedAt: timestamppb.New(c.CreatedAt()), UpdatedAt: timestamppb.New(c.UpdatedAt()),
		CompanyId: IDOrEmpty(f.CompanyID), Position: f.Position, LifecycleStage: f.LifecycleStage,
		Source: f.Source, Timezone: f.Timezone, Birthday: f.Birthday,
		Team: &f.Team, SharedWithUsers: f.SharedWithUsers, SharedWithTeams: f.SharedWithTeams,
	}
	if a := f.Address; !a.IsZero() {
		m.Address = &contactsv1.Address{Country: a.Country, Region: a.Region, City: a.City, Street: a.Street, PostalCode: a.PostalCode}
	}
	return m
}

// Company is a company as events carry it.
func Company(c *domain.Company) *contactsv1.Company {
	f := c.Fields()
	return &contactsv1.Company{
		Id: c.ID().String(), TenantId: c.TenantID().String(), Name: f.Name, LegalName: f.LegalName,
		TaxId: f.TaxID, RegistrationNumber: f.RegistrationNumber, LegalAddress: f.LegalAddress,
		Industry: f.Industry, Website: f.Website, Phones: f.Phones, Emails: f.Emails, OwnerId: f.OwnerID,
		Tags: f.Tags, Version: c.Version(),
		CreatedAt: timestamppb.New(c.CreatedAt()), UpdatedAt: timestamppb.New(c.UpdatedAt()),
	}
}

// Event makes the one event a change publishes, keyed by the aggregate.
func Event(typ string, tenant, aggregate uuid.UUID, msg proto.Message) ([]events.Event, error) {
	ev, err := events.New(catalog.ContactsTopic, Source, typ, tenant, aggregate.String(), msg)
	return []events.Event{ev}, err
}

// ContactCreated is the event of a new contact.
func ContactCreated(c *domain.Contact, actor string) ([]events.Event, error) {
	return Event(catalog.ContactCreated, c.TenantID(), c.ID(), &contactsv1.ContactCreated{Contact: Contact(c), ActorId: actor})
}

// ContactUpdated is the event of a changed contact; changed names the fields.
func ContactUpdated(c *domain.Contact, actor string, changed []string) ([]events.Event, error) {
	return Event(catalog.ContactUpdated, c.TenantID(), c.ID(),
		&contactsv1.ContactUpdated{Contact: Contact(c), ActorId: actor, ChangedFields: changed})
}

// ContactDeleted is the event of a deleted contact.
func ContactDeleted(c *domain.Contact, actor string) ([]events.Event, error) {
	return Event(catalog.ContactDeleted, c.TenantID(), c.ID(), &contactsv1.ContactDeleted{Id: c.ID().String(),
		TenantId: c.TenantID().String(), ActorId: actor, Version: c.Version(), DeletedAt: timestamppb.New(time.Now())})
}

// CompanyCreated is the event of a new company.
func CompanyCreated(c *domain.Company, actor string) ([]events.Event, error) {
	return Event(catalog.CompanyCreated, c.TenantID(), c.ID(), &contactsv1.CompanyCreated{Company: Company(c), ActorId: actor})
}

// CompanyUpdated is the event of a changed company; changed names the fields.
func CompanyUpdated(c *domain.Company, actor string, changed []string) ([]events.Event, error) {
	return Event(catalog.CompanyUpdated, c.TenantID(), c.ID(),
		&contactsv1.CompanyUpdated{Company: Company(c), ActorId: actor, ChangedFields: changed})
}

// CompanyDeleted is the event of a deleted company.
func CompanyDeleted(c *domain.Company, actor string) ([]events.Event, error) {
	return Event(catalog.CompanyDeleted, c.TenantID(), c.ID(), &contactsv1.CompanyDeleted{Id: c.ID().String(),
		TenantId: c.TenantID().String(), ActorId: actor, Version: c.Version(), DeletedAt: timestamppb.New(time.Now())})
}
