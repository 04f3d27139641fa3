package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// Known is what tasks knows of a deal, a contact or a company a task may
// name: from the projection of the contacts and sales services' events, or
// from the owning service itself.
type Known struct {
	ID      uuid.UUID
	Deleted bool
	// Access is who sees the record; nil when unknown.
	Access *access.Record
	// TimeZone is a contact's IANA zone, or a deal's contact's ("" unknown).
	TimeZone string
	// A deal's contact, company, owner, team and status (open, won, lost).
	ContactID, CompanyID uuid.UUID
	OwnerID, Team        string
	Status               string
	Version              int64
}

// KnownLinks are the projection's rows for the records of a Links, each
// nil when the projection has none.
type KnownLinks struct{ Deal, Contact, Company *Known }

// Directory reads the projection.
type Directory interface {
	// Known reads the rows of l's records (and the time zone of a deal's
	// contact) in one round trip.
	Known(ctx context.Context, tenant uuid.UUID, l domain.Links) (KnownLinks, error)
}

// Peers asks the services that own the records, with the caller's token,
// so that they apply their own visibility: found is false for a record
// that does not exist or that the caller may not see.
type Peers interface {
	Contact(ctx context.Context, id uuid.UUID) (k Known, found bool, err error)
	Company(ctx context.Context, id uuid.UUID) (k Known, found bool, err error)
	Deal(ctx context.Context, id uuid.UUID) (k Known, found bool, err error)
}

// everyone is a company's visibility: every user of the tenant reads
// companies in the contacts service.
var everyone = access.Record{Everyone: true}

// zones are the client time zones checking links learnt: a contact's, and
// a deal's contact's, by the record's id.
type zones map[uuid.UUID]string

// checkLinks checks the records l names as reads by id would: each exists,
// is not deleted, and the caller sees it. The projection answers first;
// a record it does not hold or that it says the caller does not see (it
// may be behind) is asked of its service, whose answer is final. A record
// the caller may not see is refused in the words of a missing one.
func (s *Service) checkLinks(ctx context.Context, p auth.Principal, l domain.Links) (zones, error) {
	z := zones{}
	if l == (domain.Links{}) {
		return z, nil
	}
	held, err := s.directory.Known(ctx, p.TenantID, l)
	if err != nil {
		return nil, err
	}
	viewer := p.Viewer()
	var v apperr.Invalid
	var trouble error
	check := func(id uuid.UUID, k *Known, field, what string, ask func(Peers, context.Context, uuid.UUID) (Known, bool, error)) {
		if id == uuid.Nil {
			return
		}
		if k != nil && !k.Deleted && k.Access != nil && viewer.Sees(*k.Access) {
			z[id] = k.TimeZone
			return
		}
		if s.peers != nil {
			answer, found, err := ask(s.peers, ctx, id)
			switch {
			case err != nil:
				trouble = err
				return
			case found:
				if answer.TimeZone == "" && k != nil {
					answer.TimeZone = k.TimeZone
				}
				z[id] = answer.TimeZone
				return
			}
		}
		v.Add(field, "no such "+what)
	}
	check(l.Deal, held.Deal, "deal_id", "deal", Peers.Deal)
	check(l.Contact, held.Contact, "contact_id", "contact", Peers.Contact)
	check(l.Company, held.Company, "company_id", "company", Peers.Company)
	if trouble != nil {
		return nil, trouble
	}
	return z, v.Err()
}

// zoneOf is the client's time zone of a task about l: the contact's, else
// the deal's contact's; what checking learnt first, then the projection.
func (s *Service) zoneOf(ctx context.Context, tenant uuid.UUID, l domain.Links, learnt zones) (string, error) {
	id := l.Contact
	if id == uuid.Nil {
		id = l.Deal
	}
	if id == uuid.Nil {
		return "", nil
	}
	if zone, ok := learnt[id]; ok {
		return zone, nil
	}
	held, err := s.directory.Known(ctx, tenant, domain.Links{Deal: l.Deal, Contact: l.Contact})
	switch {
	case err != nil:
		return "", err
	case l.Contact != uuid.Nil && held.Contact != nil:
		return held.Contact.TimeZone, nil
	case l.Contact == uuid.Nil && held.Deal != nil:
		return held.Deal.TimeZone, nil
	}
	return "", nil
}

// inZone reads a client-local wall time (2027-01-15T10:00) in zone.
func inZone(local, zone string) (time.Time, error) {
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		return time.Time{}, apperr.Field("due_local", "needs the client's time zone: link a contact whose time zone is known")
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", local, loc)
	if err != nil {
		return time.Time{}, apperr.Field("due_local", "must be a client-local time such as 2027-01-15T10:00")
	}
	return t.UTC(), nil
}
