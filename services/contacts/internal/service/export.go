package service

import (
	"context"
	"iter"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Exports are the CSV exports of the client base.
type Exports interface {
	// ExportContacts streams the contacts matching q; ExportCompanies the companies.
	ExportContacts(ctx context.Context, q ListQuery) (iter.Seq2[*domain.Contact, error], []domain.FieldDef, error)
	ExportCompanies(ctx context.Context, q CompanyQuery) (iter.Seq2[*domain.Company, error], []domain.FieldDef, error)
}

// exportPage is how many rows an export reads per query: large enough that
// a million rows take a thousand queries, small enough to stream.
const exportPage = 1000

// ExportContacts streams every contact the caller sees that matches q
// (filters, search and sort as in ListContacts; q.Limit is ignored), with
// the contact custom fields that are its further columns. A bad query fails
// before anything is streamed.
func (s *Service) ExportContacts(ctx context.Context, q ListQuery) (iter.Seq2[*domain.Contact, error], []domain.FieldDef, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, nil, err
	}
	if err := q.prepare(settings); err != nil {
		return nil, nil, err
	}
	if err := s.knownCompany(ctx, p, q.CompanyID); err != nil {
		return nil, nil, err
	}
	q.Viewer = p.Viewer()
	q.After = Cursor{} // an export is the whole list, never a page of it
	return pages(func() ([]*domain.Contact, error) {
		cs, err := s.repo.List(ctx, p.TenantID, q, exportPage)
		if len(cs) == exportPage {
			q.After = q.cursorOf(cs[len(cs)-1])
		}
		return cs, err
	}), settings.ContactFields, nil
}

// ExportCompanies streams every company matching q (q.Limit is ignored),
// with the company custom fields that are its further columns.
func (s *Service) ExportCompanies(ctx context.Context, q CompanyQuery) (iter.Seq2[*domain.Company, error], []domain.FieldDef, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, nil, err
	}
	if err := q.prepare(); err != nil {
		return nil, nil, err
	}
	q.After = Cursor{}
	return pages(func() ([]*domain.Company, error) {
		cs, err := s.companies.List(ctx, p.TenantID, q, exportPage)
		if len(cs) == exportPage {
			q.After = Cursor{ID: cs[len(cs)-1].ID()}
		}
		return cs, err
	}), settings.CompanyFields, nil
}

// pages turns a function returning successive pages (a short page is the
// last) into a sequence of items.
func pages[T any](next func() ([]T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, err := next()
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if len(items) < exportPage {
				return
			}
		}
	}
}
