package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Repository stores contacts. Each method owns its transaction: it scopes it
// to the tenant, writes the change and the events the callback returns to the
// outbox, and commits or rolls back in one place.
type Repository interface {
	Create(ctx context.Context, c *domain.Contact, evs func(*domain.Contact) ([]events.Event, error)) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.Contact, error)
	// Update locks the contact, lets fn change it and name the events, and
	// stores the result. fn returning no events means nothing changed.
	Update(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) (*domain.Contact, error)
	// Delete locks the contact, lets fn approve it and name the events, and removes it.
	Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) error
	// List returns up to limit contacts of the tenant with ids after `after`, in id order.
	List(ctx context.Context, tenantID uuid.UUID, after uuid.UUID, limit int) ([]*domain.Contact, error)
}
