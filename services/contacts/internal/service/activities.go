package service

import (
	"context"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Event types of activities.
const (
	TypeActivityLogged  = catalog.ActivityLogged
	TypeActivityDeleted = catalog.ActivityDeleted
)

// ActivityRepository stores activities and reads the contacts' timelines.
// Create fails with a field error when the contact or company is missing.
type ActivityRepository interface {
	Create(ctx context.Context, a *domain.Activity, evs []events.Event) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.Activity, error)
	Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Activity) ([]events.Event, error)) error
	List(ctx context.Context, tenantID uuid.UUID, q ActivityQuery, limit int) ([]*domain.Activity, error)
	Timeline(ctx context.Context, tenantID, contactID uuid.UUID, after Cursor, limit int) ([]domain.TimelineEntry, error)
	// Held is every activity and timeline entry of a contact, oldest first.
	Held(ctx context.Context, tenantID, contactID uuid.UUID) ([]*domain.Activity, []domain.TimelineEntry, error)
}

// Deals answers whether the caller in ctx may read a deal, as the sales
// service does: it is asked with the caller's own token.
type Deals interface {
	Deal(ctx context.Context, id uuid.UUID) (bool, error)
}

// ActivityQuery pages through a contact's or a company's activities, newest first.
type ActivityQuery struct {
	Limit     int
	After     Cursor
	ContactID uuid.UUID
	CompanyID uuid.UUID
	Viewer    domain.Viewer // filled by the service
}

// Activities are the use cases of activities: calls, meetings, notes and
// the like logged on a contact or a company.
type Activities interface {
	LogActivity(ctx context.Context, f domain.ActivityFields) (*domain.Activity, error)
	GetActivity(ctx context.Context, id uuid.UUID) (*domain.Activity, error)
	DeleteActivity(ctx context.Context, id uuid.UUID) error
	ListActivities(ctx context.Context, q ActivityQuery) (Page[*domain.Activity], error)
}

func (s *Service) LogActivity(ctx context.Context, f domain.ActivityFields) (*domain.Activity, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if f.OwnerID == "" {
		if f.OwnerID, err = auth.DefaultOwner(p, "owner_id"); err != nil {
			return nil, err
		}
	}
	a, err := domain.NewActivity(p.TenantID, f, s.now())
	if err != nil {
		return nil, err
	}
	if f.ContactID != uuid.Nil {
		// A contact the author cannot see is, for them, no contact.
		c, err := s.repo.Get(ctx, p.TenantID, f.ContactID)
		switch {
		case apperr.KindOf(err) == apperr.KindNotFound:
			// A merged contact answers as its id does on every route.
			if into := s.mergedTarget(ctx, p, f.ContactID); into != uuid.Nil {
				return nil, domain.ErrContactMerged(f.ContactID, into)
			}
			return nil, errNoSuchContact
		case err != nil:
			return nil, err
		case visible(p, c) != nil:
			return nil, errNoSuchContact
		case c.Erased():
			return nil, domain.ErrContactErased
		}
	}
	if f.DealID != uuid.Nil {
		// A deal the author cannot see, in sales' own judgement, is for
		// them no deal: the same words as a missing one.
		switch ok, err := s.deals.Deal(ctx, f.DealID); {
		case err != nil:
			return nil, err
		case !ok:
			return nil, errNoSuchDeal
		}
	}
	ev, err := messages.Event(TypeActivityLogged, p.TenantID, a.ID(), &contactsv1.ActivityLogged{Activity: activityMessage(a), ActorId: p.UserID})
	if err != nil {
		return nil, err
	}
	if err := s.activities.Create(ctx, a, ev); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Service) GetActivity(ctx context.Context, id uuid.UUID) (*domain.Activity, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.activities.Get(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	return a, s.activityVisible(ctx, p, a)
}

// activityVisible answers an activity about a contact the principal may not
// see like a missing one.
func (s *Service) activityVisible(ctx context.Context, p auth.Principal, a *domain.Activity) error {
	if a.ContactID() == uuid.Nil || p.Viewer().All {
		return nil
	}
	c, err := s.repo.Get(ctx, p.TenantID, a.ContactID())
	if err != nil || visible(p, c) != nil {
		return domain.ErrActivityNotFound
	}
	return nil
}

var errNoSuchContact = func() error {
	var v apperr.Invalid
	v.Add("contact_id", "no such contact")
	return v.Err()
}()

var errNoSuchDeal = func() error {
	var v apperr.Invalid
	v.Add("deal_id", "no such deal")
	return v.Err()
}()

func (s *Service) DeleteActivity(ctx context.Context, id uuid.UUID) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	return s.activities.Delete(ctx, p.TenantID, id, func(a *domain.Activity) ([]events.Event, error) {
		if err := s.activityVisible(ctx, p, a); err != nil {
			return nil, err
		}
		f := a.Fields()
		return messages.Event(TypeActivityDeleted, p.TenantID, a.ID(), &contactsv1.ActivityDeleted{Id: a.ID().String(),
			TenantId: p.TenantID.String(), ContactId: messages.IDOrEmpty(f.ContactID), CompanyId: messages.IDOrEmpty(f.CompanyID),
			ActorId: p.UserID, DeletedAt: timestamppb.New(time.Now())})
	})
}

func (s *Service) ListActivities(ctx context.Context, q ActivityQuery) (Page[*domain.Activity], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Page[*domain.Activity]{}, err
	}
	// A contact's or company's activities need the record to be visible:
	// another tenant's id is a 404, not an empty list.
	if q.ContactID != uuid.Nil {
		if _, err := s.GetContact(ctx, q.ContactID); err != nil {
			return Page[*domain.Activity]{}, err
		}
	}
	q.Viewer = p.Viewer()
	if q.CompanyID != uuid.Nil {
		if _, err := s.companies.Get(ctx, p.TenantID, q.CompanyID); err != nil {
			return Page[*domain.Activity]{}, err
		}
	}
	q.Limit = clampLimit(q.Limit)
	if err := timeCursor(q.After); err != nil {
		return Page[*domain.Activity]{}, err
	}
	as, err := s.activities.List(ctx, p.TenantID, q, q.Limit+1)
	return pageOf(as, q.Limit, func(a *domain.Activity) Cursor {
		return Cursor{ID: a.ID(), Value: a.OccurredAt().Format(time.RFC3339Nano)}
	}), err
}

func (s *Service) Timeline(ctx context.Context, contactID uuid.UUID, limit int, after Cursor) (Page[domain.TimelineEntry], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Page[domain.TimelineEntry]{}, err
	}
	if _, err := s.GetContact(ctx, contactID); err != nil {
		return Page[domain.TimelineEntry]{}, err
	}
	limit = clampLimit(limit)
	if err := timeCursor(after); err != nil {
		return Page[domain.TimelineEntry]{}, err
	}
	es, err := s.activities.Timeline(ctx, p.TenantID, contactID, after, limit+1)
	return pageOf(es, limit, func(e domain.TimelineEntry) Cursor {
		return Cursor{ID: e.ID, Value: e.At.Format(time.RFC3339Nano)}
	}), err
}

func activityMessage(a *domain.Activity) *contactsv1.Activity {
	f := a.Fields()
	return &contactsv1.Activity{Id: a.ID().String(), TenantId: a.TenantID().String(), Kind: f.Kind, Direction: f.Direction,
		Outcome: f.Outcome, DurationSeconds: int64(f.Duration / time.Second), OccurredAt: timestamppb.New(f.OccurredAt),
		Subject: f.Subject, Body: f.Body, ContactId: messages.IDOrEmpty(f.ContactID), CompanyId: messages.IDOrEmpty(f.CompanyID),
		DealId: messages.IDOrEmpty(f.DealID), OwnerId: f.OwnerID, CreatedAt: timestamppb.New(a.CreatedAt())}
}

// timeCursor checks a cursor of a newest-first list: its value is a time.
func timeCursor(c Cursor) error {
	if c.ID == uuid.Nil {
		return nil
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Value); err != nil || c.Sort != "" {
		var v apperr.Invalid
		v.Add("cursor", "not a cursor of this list; start again without it")
		return v.Err()
	}
	return nil
}
