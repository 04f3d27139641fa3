package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// WriteOptions qualify a contact write.
type WriteOptions struct {
	// AllowDuplicate stores the contact even when another one shares an
	// e-mail or a phone.
	AllowDuplicate bool
	// ContactsQuota, when above 0, refuses a create that would leave the
	// tenant with more live contacts than that (domain.ErrQuotaExceeded).
	// The service sets it from the tenant's record.
	ContactsQuota int64
}

// Repository stores contacts. Each method owns its transaction: it scopes it
// to the tenant, writes the change and the events the callback returns to the
// outbox, and commits or rolls back in one place. A write whose channels
// belong to another contact fails with domain.ErrDuplicates unless the
// options allow it; one naming a missing company fails with
// domain.ErrUnknownCompany.
type Repository interface {
	Create(ctx context.Context, c *domain.Contact, o WriteOptions, evs func(*domain.Contact) ([]events.Event, error)) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.Contact, error)
	// Update locks the contact, lets fn change it and name the events, and
	// stores the result. fn returning no events means nothing changed.
	Update(ctx context.Context, tenantID, id uuid.UUID, o WriteOptions, fn func(*domain.Contact) ([]events.Event, error)) (*domain.Contact, error)
	// Delete locks the contact, lets fn approve it and name the events, and removes it.
	Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) error
	// Erase is Update for an erasure: it also deletes the contact's
	// activities and timeline in the same transaction.
	Erase(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) (*domain.Contact, error)
	// List returns up to limit contacts matching q with ids after q.After, in id order.
	List(ctx context.Context, tenantID uuid.UUID, q ListQuery, limit int) ([]*domain.Contact, error)
	// LiveContacts is how many live contacts (neither deleted, merged away
	// nor erased) the tenant holds, as committed. Only tenants with a
	// contacts quota are counted: for the others it is 0.
	LiveContacts(ctx context.Context, tenantID uuid.UUID) (int64, error)
	MergeRepository
}

// CompanyRepository stores companies, with the same transaction rules. Delete
// fails with domain.ErrCompanyHasContacts while contacts name the company.
type CompanyRepository interface {
	// Create and Update (when it changes the company's key) fail with
	// domain.ErrDuplicateCompanies when another company holds the key
	// (domain.Company.Key), unless o allows duplicates.
	Create(ctx context.Context, c *domain.Company, o WriteOptions, evs func(*domain.Company) ([]events.Event, error)) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.Company, error)
	Update(ctx context.Context, tenantID, id uuid.UUID, o WriteOptions, fn func(*domain.Company) ([]events.Event, error)) (*domain.Company, error)
	Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Company) ([]events.Event, error)) error
	// List returns up to limit companies matching q with ids after q.After, in id order.
	List(ctx context.Context, tenantID uuid.UUID, q CompanyQuery, limit int) ([]*domain.Company, error)
}
