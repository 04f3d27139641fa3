package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// ref is a record of the contacts service that a write names.
type ref struct {
	field, what string
	id          uuid.UUID
	local       func(Repo, uuid.UUID) (Party, bool, error)
	remote      func(uuid.UUID) (Party, bool, error)
	keep        func(Repo, Party) error
	// access is who sees the record; nil when the projection does not know.
	access func(Party) *access.Record
}

// everyone is a company's visibility: the contacts service lets every user
// of the tenant read companies. Companies pass the same check as contacts,
// so a rule of their own changes only this.
var everyone = &access.Record{Everyone: true}

// checkRefs confirms the contact and company a write names as a read by id
// would: the record exists, is not deleted, and the caller sees it. One
// the projection holds and the caller sees passes; any other (unknown to
// the projection, deleted, of unknown visibility, or hidden from the caller
// by what the projection holds, which may be behind) is asked of the
// contacts service with the caller's token, and its answer joins the
// projection. A record the caller may not see is refused with exactly the
// words of a missing one, and after the same question: a deleted one
// refused at once answered faster, telling that the id had existed.
func (s *Service) checkRefs(ctx context.Context, p auth.Principal, f domain.Fields) error {
	var refs []ref
	if f.ContactID != nil && *f.ContactID != uuid.Nil {
		refs = append(refs, ref{"contact_id", "contact", *f.ContactID,
			func(r Repo, id uuid.UUID) (Party, bool, error) { return r.Contact(ctx, id) },
			func(id uuid.UUID) (Party, bool, error) { return s.contacts.Contact(ctx, id) },
			func(r Repo, p Party) error { return r.UpsertContacts(ctx, p) },
			func(p Party) *access.Record { return p.Access }})
	}
	if f.CompanyID != nil && *f.CompanyID != uuid.Nil {
		refs = append(refs, ref{"company_id", "company", *f.CompanyID,
			func(r Repo, id uuid.UUID) (Party, bool, error) { return r.Company(ctx, id) },
			func(id uuid.UUID) (Party, bool, error) { return s.contacts.Company(ctx, id) },
			func(r Repo, p Party) error { return r.UpsertCompanies(ctx, p) },
			func(Party) *access.Record { return everyone }})
	}
	viewer := viewerOf(p)
	sees := func(ref ref, p Party) bool {
		a := ref.access(p)
		return !p.Deleted && a != nil && viewer.Sees(*a)
	}
	var v apperr.Invalid
	for _, ref := range refs {
		var known, into Party
		var ok, intoOK bool
		if err := s.store.Tx(ctx, p.TenantID, func(r Repo) (err error) {
			if known, ok, err = ref.local(r, ref.id); err != nil || !ok || known.MergedInto == uuid.Nil {
				return err
			}
			into, intoOK, err = ref.local(r, known.MergedInto)
			return err
		}); err != nil {
			return err
		}
		switch {
		case ok && sees(ref, known):
			continue
		case ok && known.MergedInto != uuid.Nil && intoOK && sees(ref, into):
			// As contacts answers a read of a merged id: the survivor is
			// named only to those who see it.
			v.Add(ref.field, merged(ref.what, known.MergedInto))
			continue
		case s.contacts == nil:
			v.Add(ref.field, "no such "+ref.what)
			continue
		}
		found, ok, err := ref.remote(ref.id)
		if err != nil {
			return err
		}
		if !ok {
			msg := "no such " + ref.what
			if found.MergedInto != uuid.Nil {
				msg = merged(ref.what, found.MergedInto)
			}
			v.Add(ref.field, msg)
			continue
		}
		if err := s.store.Tx(ctx, p.TenantID, func(r Repo) error { return ref.keep(r, found) }); err != nil {
			return err
		}
	}
	return v.Err()
}

func merged(what string, into uuid.UUID) string {
	return "the " + what + " was merged into " + into.String() + "; use that one"
}
