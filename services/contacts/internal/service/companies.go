package service

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

func (s *service) CreateCompany(ctx context.Context, f domain.CompanyFields) (*domain.Company, error) {
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
	if err := s.companies.Create(ctx, c, func(c *domain.Company) ([]events.Event, error) { return companyCreated(c, p.UserID) }); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *service) GetCompany(ctx context.Context, id uuid.UUID) (*domain.Company, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	return s.companies.Get(ctx, p.TenantID, id)
}

func (s *service) UpdateCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, patch domain.CompanyPatch) (*domain.Company, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	return s.companies.Update(ctx, p.TenantID, id, func(c *domain.Company) ([]events.Event, error) {
		if !ifMatch.Holds(c.Version()) {
			return nil, domain.ErrVersionMismatch
		}
		changed, err := c.Apply(patch, settings, s.now())
		if err != nil || len(changed) == 0 {
			return nil, err
		}
		return companyUpdated(c, p.UserID, changed)
	})
}

func (s *service) DeleteCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	return s.companies.Delete(ctx, p.TenantID, id, func(c *domain.Company) ([]events.Event, error) {
		if !ifMatch.Holds(c.Version()) {
			return nil, domain.ErrVersionMismatch
		}
		return companyDeleted(c, p.UserID)
	})
}

func (s *service) ListCompanies(ctx context.Context, q CompanyQuery) (Page[*domain.Company], error) {
	p, err := principal(ctx)
	if err != nil {
		return Page[*domain.Company]{}, err
	}
	q.Limit = clampLimit(q.Limit)
	// A company's codes are matched as written (a tax id with its dashes),
	// so the query is not read as a phone number.
	q.SearchWords = domain.SearchWords(q.Q)
	if utf8.RuneCountInString(q.Q) > MaxSearchLen || len(q.SearchWords) > MaxSearchWords {
		var v apperr.Invalid
		v.Add("q", fmt.Sprintf("at most %d characters and %d words", MaxSearchLen, MaxSearchWords))
		return Page[*domain.Company]{}, v.Err()
	}
	cs, err := s.companies.List(ctx, p.TenantID, q, q.Limit+1)
	return pageOf(cs, q.Limit, func(c *domain.Company) Cursor { return Cursor{ID: c.ID()} }), err
}
