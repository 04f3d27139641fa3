package service

import (
	"context"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Companies are the use cases of companies, and the contacts of one.
type Companies interface {
	// CreateCompany and UpdateCompany refuse a company whose key another
	// company holds (domain.ErrDuplicateCompanies) unless o allows it.
	CreateCompany(ctx context.Context, f domain.CompanyFields, o WriteOptions) (*domain.Company, error)
	GetCompany(ctx context.Context, id uuid.UUID) (*domain.Company, error)
	UpdateCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, p domain.CompanyPatch, o WriteOptions) (*domain.Company, error)
	DeleteCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error
	ListCompanies(ctx context.Context, q CompanyQuery) (Page[*domain.Company], error)
	// CompanyContacts pages through the contacts of a company.
	CompanyContacts(ctx context.Context, company uuid.UUID, q ListQuery) (Page[*domain.Contact], error)
}

// CreateCompany stores a new company; unless o allows duplicates, one
// whose key (domain.Company.Key: its tax id, or its name without one)
// another company of the tenant holds is refused with
// domain.ErrDuplicateCompanies, as an import would count it a duplicate.
func (s *Service) CreateCompany(ctx context.Context, f domain.CompanyFields, o WriteOptions) (*domain.Company, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if f.OwnerID == "" {
		if f.OwnerID, err = auth.DefaultOwner(p, "owner_id"); err != nil {
			return nil, err
		}
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	c, err := domain.NewCompany(p.TenantID, f, settings, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.companies.Create(ctx, c, o, func(c *domain.Company) ([]events.Event, error) { return messages.CompanyCreated(c, p.UserID) }); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) GetCompany(ctx context.Context, id uuid.UUID) (*domain.Company, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.companies.Get(ctx, p.TenantID, id)
}

// UpdateCompany applies patch; a change of the company's key is refused
// like a create when another company holds the new key, unless o allows it.
func (s *Service) UpdateCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, patch domain.CompanyPatch, o WriteOptions) (*domain.Company, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	return s.companies.Update(ctx, p.TenantID, id, o, func(c *domain.Company) ([]events.Event, error) {
		if err := ifMatch.Check(c.Version()); err != nil {
			return nil, err
		}
		changed, err := c.Apply(patch, settings, s.now())
		if err != nil || len(changed) == 0 {
			return nil, err
		}
		return messages.CompanyUpdated(c, p.UserID, changed)
	})
}

func (s *Service) DeleteCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	return s.companies.Delete(ctx, p.TenantID, id, func(c *domain.Company) ([]events.Event, error) {
		if err := ifMatch.Check(c.Version()); err != nil {
			return nil, err
		}
		return messages.CompanyDeleted(c, p.UserID)
	})
}

func (s *Service) ListCompanies(ctx context.Context, q CompanyQuery) (Page[*domain.Company], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Page[*domain.Company]{}, err
	}
	if err := q.prepare(); err != nil {
		return Page[*domain.Company]{}, err
	}
	cs, err := s.companies.List(ctx, p.TenantID, q, q.Limit+1)
	return pageOf(cs, q.Limit, func(c *domain.Company) Cursor { return Cursor{ID: c.ID()} }), err
}

// prepare checks the query and reads its search box by the rule of every
// search box (domain.CheckSearch). A company's codes are matched as
// written (a tax id with its dashes), so q is never read as a phone.
func (q *CompanyQuery) prepare() error {
	q.Limit = clampLimit(q.Limit)
	var v apperr.Invalid
	q.SearchWords = domain.SearchWords(q.Q)
	domain.CheckSearch(&v, q.Q, nil, q.SearchWords)
	if q.After.Sort != "" || q.After.Value != "" {
		// A cursor of another list (contacts sorted by name, say).
		v.Add("cursor", "not a cursor of this list; start again without it")
	}
	return v.Err()
}
