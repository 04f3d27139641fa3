package service

import (
	"context"
	"errors"

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
	company     bool
}

// everyone is a company's visibility: the contacts service lets every user
// of the tenant read companies. Companies pass the same check as contacts,
// so a rule of their own changes only this.
var everyone = &access.Record{Everyone: true}

// refs are the contact and company a write names, checked as a read by id
// would: the record exists, is not deleted, and the caller sees it. The
// check runs in the write's own transaction (checkRefs), reading them all
// in one round trip. One the projection holds and the caller sees passes;
// any other (unknown to the projection, deleted, of unknown visibility, or
// hidden from the caller by what the projection holds, which may be behind)
// is asked of the contacts service with the caller's token between two
// attempts of the write (asking), and its answer is final and joins the
// projection in the write's transaction. A record the caller may not see is
// refused with exactly the words of a missing one, and after the same
// question: a deleted one refused at once answered faster, telling that the
// id had existed.
type refs struct {
	list []ref
	// confirmed are the records contacts answered for, by field.
	confirmed map[string]Party
	// pending are those the last attempt could not decide, and refused
	// why the others failed (by field), for asking.
	pending []ref
	refused map[string]string
}

// refsOf are the references f names.
func refsOf(f domain.DealPatch) *refs {
	n := &refs{confirmed: map[string]Party{}}
	if f.ContactID != nil && *f.ContactID != uuid.Nil {
		n.list = append(n.list, ref{"contact_id", "contact", *f.ContactID, false})
	}
	if f.CompanyID != nil && *f.CompanyID != uuid.Nil {
		n.list = append(n.list, ref{"company_id", "company", *f.CompanyID, true})
	}
	return n
}

// confirm adds a contact the contacts service has just answered for (the
// quick deal's new one).
func (n *refs) confirm(c Party) {
	n.list = append(n.list, ref{"contact_id", "contact", c.ID, false})
	n.confirmed["contact_id"] = c
}

// errAsk gives up an attempt of a write whose references the projection
// cannot decide: the contacts service is asked outside any transaction.
var errAsk = errors.New("service: a reference must be asked of the contacts service")

// checkRefs checks n in the write's transaction r, and stores what the
// contacts service confirmed into the projection there. It returns errAsk
// when the contacts service must be asked first.
func (s *Service) checkRefs(ctx context.Context, r References, p auth.Principal, n *refs) error {
	var contacts, companies []uuid.UUID
	var keepContacts, keepCompanies []Party
	for _, ref := range n.list {
		c, ok := n.confirmed[ref.field]
		switch {
		case ok && ref.company:
			keepCompanies = append(keepCompanies, c)
		case ok:
			keepContacts = append(keepContacts, c)
		case ref.company:
			companies = append(companies, ref.id)
		default:
			contacts = append(contacts, ref.id)
		}
	}
	var held Held
	if len(contacts)+len(companies) > 0 {
		var err error
		if held, err = r.References(ctx, contacts, companies); err != nil {
			return err
		}
	}
	viewer := p.Viewer()
	sees := func(ref ref, p Party) bool {
		a := p.Access
		if ref.company {
			a = everyone
		}
		return !p.Deleted && a != nil && viewer.Sees(*a)
	}
	n.pending, n.refused = nil, map[string]string{}
	for _, ref := range n.list {
		if _, ok := n.confirmed[ref.field]; ok {
			continue
		}
		known, ok := held.Contacts[ref.id]
		if ref.company {
			known, ok = held.Companies[ref.id]
		}
		into, intoOK := held.Contacts[known.MergedInto]
		switch {
		case ok && sees(ref, known):
		case ok && known.MergedInto != uuid.Nil && intoOK && sees(ref, into):
			// As contacts answers a read of a merged id: the survivor is
			// named only to those who see it.
			n.refused[ref.field] = merged(ref.what, known.MergedInto)
		case s.contacts == nil:
			n.refused[ref.field] = "no such " + ref.what
		default:
			n.pending = append(n.pending, ref)
		}
	}
	if len(n.pending) > 0 {
		return errAsk
	}
	if err := n.refusal(); err != nil {
		return err
	}
	if len(keepContacts) > 0 {
		if err := r.UpsertContacts(ctx, keepContacts...); err != nil {
			return err
		}
	}
	if len(keepCompanies) > 0 {
		return r.UpsertCompanies(ctx, keepCompanies...)
	}
	return nil
}

// asking runs attempt, a write's transaction that calls checkRefs on n,
// and again after asking the contacts service what it could not decide.
// Each question settles a reference for good, so it runs at most once more
// than n names references.
func (s *Service) asking(ctx context.Context, n *refs, attempt func() error) error {
	for {
		err := attempt()
		if n == nil || !errors.Is(err, errAsk) {
			return err
		}
		for _, ref := range n.pending {
			ask := s.contacts.Contact
			if ref.company {
				ask = s.contacts.Company
			}
			found, ok, err := ask(ctx, ref.id)
			switch {
			case err != nil:
				return err
			case ok:
				n.confirmed[ref.field] = found
			case found.MergedInto != uuid.Nil:
				n.refused[ref.field] = merged(ref.what, found.MergedInto)
			default:
				n.refused[ref.field] = "no such " + ref.what
			}
		}
		// One answer names every reference refused, by the projection or by contacts.
		if err := n.refusal(); err != nil {
			return err
		}
	}
}

// refusal is the validation problem of the references refused, in the
// order the write names them; nil when none is.
func (n *refs) refusal() error {
	var v apperr.Invalid
	for _, ref := range n.list {
		if msg, ok := n.refused[ref.field]; ok {
			v.Add(ref.field, msg)
		}
	}
	return v.Err()
}

func merged(what string, into uuid.UUID) string {
	return "the " + what + " was merged into " + into.String() + "; use that one"
}
