// Package service holds the contacts use cases. It knows who asks (the
// principal from the verified token), what they may do, and which events a
// change publishes; storage is behind Repository.
package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Service is what the contacts API offers.
type Service interface {
	CreateContact(ctx context.Context, f domain.Fields) (*domain.Contact, error)
	GetContact(ctx context.Context, id uuid.UUID) (*domain.Contact, error)
	// UpdateContact applies p; ifMatch > 0 demands the current version.
	UpdateContact(ctx context.Context, id uuid.UUID, ifMatch int64, p domain.Patch) (*domain.Contact, error)
	DeleteContact(ctx context.Context, id uuid.UUID, ifMatch int64) error
	ListContacts(ctx context.Context, q ListQuery) (ListResult, error)
}

// ListQuery pages through contacts in creation order.
type ListQuery struct {
	Limit int
	After uuid.UUID
}

// ListResult is one page; Next is uuid.Nil on the last page.
type ListResult struct {
	Contacts []*domain.Contact
	Next     uuid.UUID
}

type service struct {
	repo Repository
	now  func() time.Time
}

// New returns the service over repo.
func New(repo Repository) Service { return &service{repo: repo, now: time.Now} }

var errReadOnly = apperr.New(apperr.KindForbidden, "read-only-role", "your role may read contacts but not change them")

func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || p.TenantID == uuid.Nil {
		return auth.Principal{}, apperr.New(apperr.KindUnauthorized, "unauthenticated", "a verified token is required")
	}
	return p, nil
}

func writer(ctx context.Context) (auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return p, err
	}
	if !p.HasRole(auth.RoleAdmin) && !p.HasRole(auth.RoleManager) && !p.HasRole(auth.RoleRep) {
		return p, errReadOnly
	}
	return p, nil
}

func (s *service) CreateContact(ctx context.Context, f domain.Fields) (*domain.Contact, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if f.OwnerID == "" {
		f.OwnerID = p.UserID
	}
	c, err := domain.NewContact(p.TenantID, f, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.repo.Create(ctx, c, func(c *domain.Contact) ([]events.Event, error) { return created(c, p.UserID) }); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *service) GetContact(ctx context.Context, id uuid.UUID) (*domain.Contact, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	return s.repo.Get(ctx, p.TenantID, id)
}

func (s *service) UpdateContact(ctx context.Context, id uuid.UUID, ifMatch int64, patch domain.Patch) (*domain.Contact, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	return s.repo.Update(ctx, p.TenantID, id, func(c *domain.Contact) ([]events.Event, error) {
		if ifMatch > 0 && c.Version() != ifMatch {
			return nil, domain.ErrVersionMismatch
		}
		changed, err := c.Apply(patch, s.now())
		if err != nil || len(changed) == 0 {
			return nil, err
		}
		return updated(c, p.UserID, changed)
	})
}

func (s *service) DeleteContact(ctx context.Context, id uuid.UUID, ifMatch int64) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	return s.repo.Delete(ctx, p.TenantID, id, func(c *domain.Contact) ([]events.Event, error) {
		if ifMatch > 0 && c.Version() != ifMatch {
			return nil, domain.ErrVersionMismatch
		}
		return deleted(c, p.UserID)
	})
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

func (s *service) ListContacts(ctx context.Context, q ListQuery) (ListResult, error) {
	p, err := principal(ctx)
	if err != nil {
		return ListResult{}, err
	}
	if q.Limit <= 0 || q.Limit > MaxLimit {
		q.Limit = DefaultLimit
	}
	// One extra row tells whether another page follows.
	cs, err := s.repo.List(ctx, p.TenantID, q.After, q.Limit+1)
	if err != nil {
		return ListResult{}, err
	}
	res := ListResult{Contacts: cs}
	if len(cs) > q.Limit {
		res.Contacts = cs[:q.Limit]
		res.Next = cs[q.Limit-1].ID()
	}
	return res, nil
}
