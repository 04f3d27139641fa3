package service

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Event types of custom field definitions.
const (
	TypeFieldDefined = catalog.FieldDefined
	TypeFieldChanged = catalog.FieldChanged
	TypeFieldDeleted = catalog.FieldDeleted
)

// FieldRepository stores custom field definitions. Create fails with a
// field error on key when the entity already has a field with that key,
// and with domain.ErrTooManyFields when the tenant has domain.MaxFields;
// with atEnd it gives the field the position after its entity's others
// (safe against concurrent creates) and returns the field as stored.
// Delete also removes the field's values from every record.
type FieldRepository interface {
	Create(ctx context.Context, f *domain.Field, atEnd bool, evs []events.Event) (*domain.Field, error)
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.Field, error)
	Update(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Field) ([]events.Event, error)) (*domain.Field, error)
	Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Field) ([]events.Event, error)) error
	List(ctx context.Context, tenantID uuid.UUID, entity string) ([]*domain.Field, error)
}

// Fields are the use cases of custom field definitions.
type Fields interface {
	// DefineField defines a custom field at position, or after its
	// entity's others when position is nil.
	DefineField(ctx context.Context, d domain.FieldDef, position *int) (*domain.Field, error)
	GetField(ctx context.Context, id uuid.UUID) (*domain.Field, error)
	ListFields(ctx context.Context, entity string) ([]*domain.Field, error)
	ChangeField(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, p domain.FieldPatch) (*domain.Field, error)
	DeleteField(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error
}

// fieldCacheTTL bounds how long a write may validate against definitions
// another instance has since changed. This instance forgets a tenant's
// definitions as soon as it changes them itself.
const fieldCacheTTL = 2 * time.Second

type fieldCache struct {
	mu      sync.Mutex
	entries map[uuid.UUID]cachedFields
}

type cachedFields struct {
	defs    []*domain.Field
	sources []string // lead source values
	at      time.Time
}

func (c *fieldCache) forget(tenant uuid.UUID) {
	c.mu.Lock()
	delete(c.entries, tenant)
	c.mu.Unlock()
}

// fieldsOf returns the tenant's definitions, from the cache when fresh.
func (s *Service) fieldsOf(ctx context.Context, tenant uuid.UUID) ([]*domain.Field, error) {
	e, err := s.cached(ctx, tenant)
	return e.defs, err
}

// cached returns what writes validate against, the tenant's custom field
// definitions and lead sources, from the cache when fresh.
func (s *Service) cached(ctx context.Context, tenant uuid.UUID) (cachedFields, error) {
	s.cache.mu.Lock()
	e, ok := s.cache.entries[tenant]
	s.cache.mu.Unlock()
	if ok && time.Since(e.at) < fieldCacheTTL {
		return e, nil
	}
	defs, err := s.fields.List(ctx, tenant, "")
	if err != nil {
		return e, err
	}
	e = cachedFields{defs: defs, at: time.Now()}
	if s.leadSources != nil {
		sources, err := s.leadSources.List(ctx, tenant)
		if err != nil {
			return e, err
		}
		for _, src := range sources {
			e.sources = append(e.sources, src.Value)
		}
	}
	s.cache.mu.Lock()
	s.cache.entries[tenant] = e
	s.cache.mu.Unlock()
	return e, nil
}

// settingsFor is the tenant's defaults with its custom fields.
func (s *Service) settingsFor(ctx context.Context, tenant uuid.UUID) (domain.Settings, error) {
	st := s.settings(tenant)
	e, err := s.cached(ctx, tenant)
	if err != nil {
		return st, err
	}
	st.LeadSources = e.sources
	for _, f := range e.defs {
		switch d := f.Def(); d.Entity {
		case domain.EntityContact:
			st.ContactFields = append(st.ContactFields, d)
		case domain.EntityCompany:
			st.CompanyFields = append(st.CompanyFields, d)
		}
	}
	return st, nil
}

// DefineField stores a new custom field at position, or, when position is
// nil, after every other field of its entity.
func (s *Service) DefineField(ctx context.Context, d domain.FieldDef, position *int) (*domain.Field, error) {
	p, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	if position != nil {
		d.Position = *position
	}
	f, err := domain.NewField(p.TenantID, d, s.now())
	if err != nil {
		return nil, err
	}
	ev, err := messages.Event(TypeFieldDefined, p.TenantID, f.ID(), fieldMessage(f, p.UserID))
	if err != nil {
		return nil, err
	}
	defer s.cache.forget(p.TenantID)
	return s.fields.Create(ctx, f, position == nil, ev)
}

func (s *Service) GetField(ctx context.Context, id uuid.UUID) (*domain.Field, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.fields.Get(ctx, p.TenantID, id)
}

func (s *Service) ListFields(ctx context.Context, entity string) ([]*domain.Field, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if entity != "" && !slices.Contains(domain.Entities, entity) {
		var v apperr.Invalid
		v.Add("entity", "one of "+strings.Join(domain.Entities, ", "))
		return nil, v.Err()
	}
	return s.fields.List(ctx, p.TenantID, entity)
}

func (s *Service) ChangeField(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, patch domain.FieldPatch) (*domain.Field, error) {
	p, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.cache.forget(p.TenantID)
	return s.fields.Update(ctx, p.TenantID, id, func(f *domain.Field) ([]events.Event, error) {
		if err := ifMatch.Check(f.Version()); err != nil {
			return nil, err
		}
		changed, err := f.Apply(patch, s.now())
		if err != nil || len(changed) == 0 {
			return nil, err
		}
		return messages.Event(TypeFieldChanged, p.TenantID, f.ID(), fieldMessage(f, p.UserID))
	})
}

func (s *Service) DeleteField(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := admin(ctx)
	if err != nil {
		return err
	}
	defer s.cache.forget(p.TenantID)
	return s.fields.Delete(ctx, p.TenantID, id, func(f *domain.Field) ([]events.Event, error) {
		if err := ifMatch.Check(f.Version()); err != nil {
			return nil, err
		}
		msg := fieldMessage(f, p.UserID)
		msg.DeletedAt = timestamppb.New(s.now())
		return messages.Event(TypeFieldDeleted, p.TenantID, f.ID(), msg)
	})
}

func fieldMessage(f *domain.Field, actor string) *contactsv1.FieldDefinition {
	d := f.Def()
	opts := make([]string, len(d.Options))
	for i, o := range d.Options {
		opts[i] = o.Value
	}
	return &contactsv1.FieldDefinition{Id: f.ID().String(), TenantId: f.TenantID().String(), Entity: d.Entity, Key: d.Key,
		Label: d.Label, Type: d.Type, Required: d.Required, Options: opts, Version: f.Version(), ActorId: actor}
}

// customFilters turns ?custom.<key>=<value> into containment documents on
// the custom column, typed by each field's definition.
func customFilters(defs []domain.FieldDef, raw map[string]string) ([][]byte, error) {
	var v apperr.Invalid
	var out [][]byte
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := raw[k]
		i := slices.IndexFunc(defs, func(d domain.FieldDef) bool { return d.Key == k })
		name := "custom." + k
		if i < 0 {
			v.Add(name, "no such custom field")
			continue
		}
		var typed any = val
		switch defs[i].Type {
		case "number":
			n, err := strconv.ParseFloat(val, 64)
			if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
				v.Add(name, "a number")
				continue
			}
			typed = n
		case "boolean":
			b, err := strconv.ParseBool(val)
			if err != nil {
				v.Add(name, "true or false")
				continue
			}
			typed = b
		case "multi_enum":
			typed = []string{val}
		case "money":
			v.Add(name, "money fields cannot be filtered by value yet")
			continue
		}
		doc, _ := json.Marshal(map[string]any{k: typed})
		out = append(out, doc)
	}
	return out, v.Err()
}
