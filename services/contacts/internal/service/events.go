package service

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

// Topic and event types this service publishes.
const (
	Topic              = catalog.ContactsTopic
	Source             = "/rapport/contacts"
	TypeCreated        = catalog.ContactCreated
	TypeUpdated        = catalog.ContactUpdated
	TypeDeleted        = catalog.ContactDeleted
	TypeCompanyCreated = catalog.CompanyCreated
	TypeCompanyUpdated = catalog.CompanyUpdated
	TypeCompanyDeleted = catalog.CompanyDeleted
)

func idOrEmpty(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

func contactMessage(c *domain.Contact) *contactsv1.Contact {
	f := c.Fields()
	m := &contactsv1.Contact{
		Id: c.ID().String(), TenantId: c.TenantID().String(),
		FirstName: f.FirstName, LastName: f.LastName, Emails: f.Emails, Phones: f.Phones,
		OwnerId: f.OwnerID, Tags: f.Tags, Version: c.Version(),
		CreatedAt: timestamppb.New(c.CreatedAt()), UpdatedAt: timestamppb.New(c.UpdatedAt()),
		CompanyId: idOrEmpty(f.CompanyID), Position: f.Position, LifecycleStage: f.LifecycleStage,
		Source: f.Source, Timezone: f.Timezone, Birthday: f.Birthday,
		Team: &f.Team, SharedWithUsers: f.SharedWithUsers, SharedWithTeams: f.SharedWithTeams,
	}
	if a := f.Address; !a.IsZero() {
		m.Address = &contactsv1.Address{Country: a.Country, Region: a.Region, City: a.City, Street: a.Street, PostalCode: a.PostalCode}
	}
	return m
}

func companyMessage(c *domain.Company) *contactsv1.Company {
	f := c.Fields()
	return &contactsv1.Company{
		Id: c.ID().String(), TenantId: c.TenantID().String(), Name: f.Name, LegalName: f.LegalName,
		TaxId: f.TaxID, RegistrationNumber: f.RegistrationNumber, LegalAddress: f.LegalAddress,
		Industry: f.Industry, Website: f.Website, Phones: f.Phones, Emails: f.Emails, OwnerId: f.OwnerID,
		Tags: f.Tags, Version: c.Version(),
		CreatedAt: timestamppb.New(c.CreatedAt()), UpdatedAt: timestamppb.New(c.UpdatedAt()),
	}
}

// event makes the one event a change publishes, keyed by the aggregate.
func event(typ string, tenant, aggregate uuid.UUID, msg proto.Message) ([]events.Event, error) {
	ev, err := events.New(Topic, Source, typ, tenant, aggregate.String(), msg)
	return []events.Event{ev}, err
}

func contactCreated(c *domain.Contact, actor string) ([]events.Event, error) {
	return event(TypeCreated, c.TenantID(), c.ID(), &contactsv1.ContactCreated{Contact: contactMessage(c), ActorId: actor})
}

func contactUpdated(c *domain.Contact, actor string, changed []string) ([]events.Event, error) {
	return event(TypeUpdated, c.TenantID(), c.ID(),
		&contactsv1.ContactUpdated{Contact: contactMessage(c), ActorId: actor, ChangedFields: changed})
}

func contactDeleted(c *domain.Contact, actor string) ([]events.Event, error) {
	return event(TypeDeleted, c.TenantID(), c.ID(), &contactsv1.ContactDeleted{Id: c.ID().String(),
		TenantId: c.TenantID().String(), ActorId: actor, Version: c.Version(), DeletedAt: timestamppb.New(time.Now())})
}

func companyCreated(c *domain.Company, actor string) ([]events.Event, error) {
	return event(TypeCompanyCreated, c.TenantID(), c.ID(), &contactsv1.CompanyCreated{Company: companyMessage(c), ActorId: actor})
}

func companyUpdated(c *domain.Company, actor string, changed []string) ([]events.Event, error) {
	return event(TypeCompanyUpdated, c.TenantID(), c.ID(),
		&contactsv1.CompanyUpdated{Company: companyMessage(c), ActorId: actor, ChangedFields: changed})
}

func companyDeleted(c *domain.Company, actor string) ([]events.Event, error) {
	return event(TypeCompanyDeleted, c.TenantID(), c.ID(), &contactsv1.CompanyDeleted{Id: c.ID().String(),
		TenantId: c.TenantID().String(), ActorId: actor, Version: c.Version(), DeletedAt: timestamppb.New(time.Now())})
}
