// Package service holds the contacts use cases. It knows who asks (the
// principal from the verified token), what they may do, and which events a
// change publishes; storage is behind Repository and CompanyRepository.
package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Contacts are the use cases of contacts themselves.
type Contacts interface {
	CreateContact(ctx context.Context, f domain.Fields, o WriteOptions) (*domain.Contact, error)
	GetContact(ctx context.Context, id uuid.UUID) (*domain.Contact, error)
	// UpdateContact applies p if the current version satisfies ifMatch.
	UpdateContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, p domain.Patch, o WriteOptions) (*domain.Contact, error)
	DeleteContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error
	ListContacts(ctx context.Context, q ListQuery) (Page[*domain.Contact], error)
}

// CompanyQuery pages through companies in creation order.
type CompanyQuery struct {
	Limit int
	After Cursor // zero: the first page; only its ID counts
	// Q matches fragments of the names, tax and registration numbers.
	Q string
	// Filled by the service from Q.
	SearchWords []string
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// SettingsFunc returns a tenant's defaults.
type SettingsFunc func(tenant uuid.UUID) domain.Settings

// Service runs the contacts use cases. What the API offers is split by use
// case group, each an interface in its subdomain's file (Contacts,
// Companies, Activities, Fields, Exports, Privacy, Timelines, Merges,
// LeadSourceList, Imports), so that each group of endpoints depends on its
// own few methods; Service implements them all.
type Service struct {
	repo       Repository
	companies  CompanyRepository
	activities ActivityRepository
	fields     FieldRepository
	cache      fieldCache
	settings   SettingsFunc
	now        func() time.Time
	imports    ImportRepository
	// leadSources is nil in services built without them.
	leadSources LeadSourceRepository
	// importQueued tells the import engine a job was queued.
	importQueued func()
	deals        Deals
}

// Stores are the repositories the use cases run on, one per subdomain.
type Stores struct {
	Contacts    Repository
	Companies   CompanyRepository
	Activities  ActivityRepository
	Fields      FieldRepository
	Imports     ImportRepository
	LeadSources LeadSourceRepository
}

// New returns the service over its stores: settings reads a tenant's
// record, deals asks the sales service about deals, and importQueued is
// called when an import is queued.
func New(st Stores, settings SettingsFunc, deals Deals, importQueued func()) *Service {
	return &Service{repo: st.Contacts, companies: st.Companies, activities: st.Activities, fields: st.Fields, imports: st.Imports,
		leadSources: st.LeadSources, deals: deals, importQueued: importQueued,
		cache: fieldCache{entries: map[uuid.UUID]cachedFields{}}, settings: settings, now: time.Now}
}

// Service implements every use case group.
var (
	_ Contacts       = (*Service)(nil)
	_ Companies      = (*Service)(nil)
	_ Activities     = (*Service)(nil)
	_ Fields         = (*Service)(nil)
	_ Exports        = (*Service)(nil)
	_ Privacy        = (*Service)(nil)
	_ Timelines      = (*Service)(nil)
	_ Merges         = (*Service)(nil)
	_ LeadSourceList = (*Service)(nil)
	_ Imports        = (*Service)(nil)
)

var errReadOnly = apperr.New(apperr.KindForbidden, "read-only-role", "your role may read the client base but not change it")

// visible answers a contact the principal may not see like a missing one.
func visible(p auth.Principal, c *domain.Contact) error {
	if !c.VisibleTo(p.Viewer()) {
		return domain.ErrContactNotFound
	}
	return nil
}

// writer is a principal that may change records (auth.Writer).
func writer(ctx context.Context) (auth.Principal, error) { return auth.Writer(ctx, errReadOnly) }

func (s *Service) CreateContact(ctx context.Context, f domain.Fields, o WriteOptions) (*domain.Contact, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if f.OwnerID == "" {
		if f.OwnerID, err = auth.DefaultOwner(p, "owner_id"); err != nil {
			return nil, err
		}
	}
	if f.Team == "" {
		f.Team = p.Team
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	c, err := domain.NewContact(p.TenantID, f, settings, s.now())
	if err != nil {
		return nil, err
	}
	o.ContactsQuota = settings.ContactsQuota
	if err := s.repo.Create(ctx, c, o, func(c *domain.Contact) ([]events.Event, error) { return messages.ContactCreated(c, p.UserID) }); err != nil {
		return nil, s.hideInvisible(ctx, p, err)
	}
	return c, nil
}

// hideInvisible keeps a duplicate refusal from naming contacts the caller
// may not see: those are reported without their id. That the channel is
// taken is still said, since storing it again is what the refusal prevents.
func (s *Service) hideInvisible(ctx context.Context, p auth.Principal, err error) error {
	e, ok := apperr.As(err)
	if !ok || p.Viewer().All {
		return err
	}
	dups, ok := e.Extensions["duplicates"].([]domain.Duplicate)
	if !ok {
		return err
	}
	shown := make([]domain.Duplicate, len(dups))
	for i, d := range dups {
		shown[i] = d
		if d.ID == nil {
			continue
		}
		if c, gerr := s.repo.Get(ctx, p.TenantID, *d.ID); gerr != nil || visible(p, c) != nil {
			shown[i].ID, shown[i].Hidden = nil, true
		}
	}
	return domain.ErrDuplicates(shown)
}

func (s *Service) GetContact(ctx context.Context, id uuid.UUID) (*domain.Contact, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.repo.Get(ctx, p.TenantID, id)
	if err != nil {
		return nil, s.mergedInto(ctx, p, id, err)
	}
	return c, visible(p, c)
}

func (s *Service) UpdateContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, patch domain.Patch, o WriteOptions) (*domain.Contact, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	c, err := s.repo.Update(ctx, p.TenantID, id, o, func(c *domain.Contact) ([]events.Event, error) {
		if err := visible(p, c); err != nil {
			return nil, err
		}
		if err := ifMatch.Check(c.Version()); err != nil {
			return nil, err
		}
		changed, err := c.Apply(patch, settings, s.now())
		if err != nil || len(changed) == 0 {
			return nil, err
		}
		return messages.ContactUpdated(c, p.UserID, changed)
	})
	if err != nil {
		return nil, s.hideInvisible(ctx, p, s.mergedInto(ctx, p, id, err))
	}
	return c, nil
}

func (s *Service) DeleteContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	return s.mergedInto(ctx, p, id, s.repo.Delete(ctx, p.TenantID, id, func(c *domain.Contact) ([]events.Event, error) {
		if err := visible(p, c); err != nil {
			return nil, err
		}
		if err := ifMatch.Check(c.Version()); err != nil {
			return nil, err
		}
		return messages.ContactDeleted(c, p.UserID)
	}))
}

func (s *Service) ListContacts(ctx context.Context, q ListQuery) (Page[*domain.Contact], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Page[*domain.Contact]{}, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return Page[*domain.Contact]{}, err
	}
	if err := q.prepare(settings); err != nil {
		return Page[*domain.Contact]{}, err
	}
	if err := s.knownCompany(ctx, p, q.CompanyID); err != nil {
		return Page[*domain.Contact]{}, err
	}
	q.Viewer = p.Viewer()
	// One extra row tells whether another page follows.
	cs, err := s.repo.List(ctx, p.TenantID, q, q.Limit+1)
	return pageOf(cs, q.Limit, q.cursorOf), err
}

func (s *Service) CompanyContacts(ctx context.Context, company uuid.UUID, q ListQuery) (Page[*domain.Contact], error) {
	q.CompanyID = company
	return s.ListContacts(ctx, q)
}

// knownCompany checks the company a list of contacts is filtered by (none
// when uuid.Nil): one the tenant does not have, another tenant's included,
// is a 404, not an empty list, whether it is named in the path
// (/v1/companies/{id}/contacts) or as a filter (?company_id=).
func (s *Service) knownCompany(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	if id == uuid.Nil {
		return nil
	}
	_, err := s.companies.Get(ctx, p.TenantID, id)
	return err
}
