package service

import (
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Topic and event types this service publishes.
const (
	Topic              = catalog.ContactsTopic
	Source             = messages.Source
	TypeCreated        = catalog.ContactCreated
	TypeUpdated        = catalog.ContactUpdated
	TypeDeleted        = catalog.ContactDeleted
	TypeCompanyCreated = catalog.CompanyCreated
	TypeCompanyUpdated = catalog.CompanyUpdated
	TypeCompanyDeleted = catalog.CompanyDeleted
)
