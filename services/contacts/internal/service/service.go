// Package service holds the contacts use cases. It knows who asks (the
// principal from the verified token), what they may do, and which events a
// change publishes; storage is behind Repository and CompanyRepository.
package service

import (
	"context"
	"iter"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Service is what the contacts API offers.
type Service interface {
	CreateContact(ctx context.Context, f domain.Fields, o WriteOptions) (*domain.Contact, error)
	GetContact(ctx context.Context, id uuid.UUID) (*domain.Contact, error)
	// UpdateContact applies p if the current version satisfies ifMatch.
	UpdateContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, p domain.Patch, o WriteOptions) (*domain.Contact, error)
	DeleteContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error
	ListContacts(ctx context.Context, q ListQuery) (Page[*domain.Contact], error)

	// CreateCompany and UpdateCompany refuse a company whose key another
	// company holds (domain.ErrDuplicateCompanies) unless o allows it.
	CreateCompany(ctx context.Context, f domain.CompanyFields, o WriteOptions) (*domain.Company, error)
	GetCompany(ctx context.Context, id uuid.UUID) (*domain.Company, error)
	UpdateCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, p domain.CompanyPatch, o WriteOptions) (*domain.Company, error)
	DeleteCompany(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error
	ListCompanies(ctx context.Context, q CompanyQuery) (Page[*domain.Company], error)
	// CompanyContacts pages through the contacts of a company.
	CompanyContacts(ctx context.Context, company uuid.UUID, q ListQuery) (Page[*domain.Contact], error)

	LogActivity(ctx context.Context, f domain.ActivityFields) (*domain.Activity, error)
	GetActivity(ctx context.Context, id uuid.UUID) (*domain.Activity, error)
	DeleteActivity(ctx context.Context, id uuid.UUID) error
	ListActivities(ctx context.Context, q ActivityQuery) (Page[*domain.Activity], error)
	// DefineField defines a custom field at position, or after its
	// entity's others when position is nil.
	DefineField(ctx context.Context, d domain.FieldDef, position *int) (*domain.Field, error)
	GetField(ctx context.Context, id uuid.UUID) (*domain.Field, error)
	ListFields(ctx context.Context, entity string) ([]*domain.Field, error)
	ChangeField(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, p domain.FieldPatch) (*domain.Field, error)
	DeleteField(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error
	// ExportContacts streams the contacts matching q; ExportCompanies the companies.
	ExportContacts(ctx context.Context, q ListQuery) (iter.Seq2[*domain.Contact, error], []domain.FieldDef, error)
	ExportCompanies(ctx context.Context, q CompanyQuery) (iter.Seq2[*domain.Company, error], []domain.FieldDef, error)
	// EraseContact removes the person's personal data for real.
	EraseContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) (*domain.Contact, error)
	// ExportContact returns everything held about the person.
	ExportContact(ctx context.Context, id uuid.UUID) (DataExport, error)
	// Timeline pages through what happened to a contact, newest first.
	Timeline(ctx context.Context, contactID uuid.UUID, limit int, after Cursor) (Page[domain.TimelineEntry], error)
	// DuplicatePairs pages through likely duplicates; MergeContacts folds
	// contacts into a target and UnmergeContacts undoes it (see merge.go).
	DuplicatePairs(ctx context.Context, q PairQuery) (PairPage, error)
	MergeContacts(ctx context.Context, target uuid.UUID, ifMatch access.IfMatch, from []uuid.UUID) (*domain.Contact, error)
	UnmergeContacts(ctx context.Context, target uuid.UUID, ifMatch access.IfMatch, only []uuid.UUID) (*domain.Contact, []*domain.Contact, error)
	// LeadSources lists the tenant's lead sources; SetLeadSources replaces them.
	LeadSources(ctx context.Context) ([]domain.LeadSource, error)
	SetLeadSources(ctx context.Context, sources []domain.LeadSource) ([]domain.LeadSource, error)
	// StartImport stores a CSV file and queues its import; GetImport and
	// ImportErrors report on it. The import engine (package imports) runs
	// the jobs, with the tenant's ImportSettings.
	StartImport(ctx context.Context, req ImportRequest) (*domain.ImportJob, error)
	GetImport(ctx context.Context, id uuid.UUID) (*domain.ImportJob, error)
	ImportErrors(ctx context.Context, id uuid.UUID, fn func(domain.ImportError) error) error
	ImportSettings(ctx context.Context, tenant uuid.UUID) (domain.Settings, error)
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

type service struct {
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
func New(st Stores, settings SettingsFunc, deals Deals, importQueued func()) Service {
	return &service{repo: st.Contacts, companies: st.Companies, activities: st.Activities, fields: st.Fields, imports: st.Imports,
		leadSources: st.LeadSources, deals: deals, importQueued: importQueued,
		cache: fieldCache{entries: map[uuid.UUID]cachedFields{}}, settings: settings, now: time.Now}
}

var errReadOnly = apperr.New(apperr.KindForbidden, "read-only-role", "your role may read the client base but not change it")

// visible answers a contact the principal may not see like a missing one.
func visible(p auth.Principal, c *domain.Contact) error {
	if !c.VisibleTo(p.Viewer()) {
		return domain.ErrContactNotFound
	}
	return nil
}

func writer(ctx context.Context) (auth.Principal, error) {
	p, err := auth.Caller(ctx)
	if err == nil && !p.Writes() {
		err = errReadOnly
	}
	return p, err
}

func (s *service) CreateContact(ctx context.Context, f domain.Fields, o WriteOptions) (*domain.Contact, error) {
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
func (s *service) hideInvisible(ctx context.Context, p auth.Principal, err error) error {
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

func (s *service) GetContact(ctx context.Context, id uuid.UUID) (*domain.Contact, error) {
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

func (s *service) UpdateContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, patch domain.Patch, o WriteOptions) (*domain.Contact, error) {
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

func (s *service) DeleteContact(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
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

func (s *service) ListContacts(ctx context.Context, q ListQuery) (Page[*domain.Contact], error) {
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

func (s *service) CompanyContacts(ctx context.Context, company uuid.UUID, q ListQuery) (Page[*domain.Contact], error) {
	q.CompanyID = company
	return s.ListContacts(ctx, q)
}

// knownCompany checks the company a list of contacts is filtered by (none
// when uuid.Nil): one the tenant does not have, another tenant's included,
// is a 404, not an empty list, whether it is named in the path
// (/v1/companies/{id}/contacts) or as a filter (?company_id=).
func (s *service) knownCompany(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	if id == uuid.Nil {
		return nil
	}
	_, err := s.companies.Get(ctx, p.TenantID, id)
	return err
}
