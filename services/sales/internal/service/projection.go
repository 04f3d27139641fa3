package service

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// ContactsTopic is the contacts service's topic, which the projection reads.
const ContactsTopic = catalog.ContactsTopic

// The contacts service's event types the projection applies.
const (
	typeContactUpdated  = catalog.ContactUpdated
	typeContactDeleted  = catalog.ContactDeleted
	typeContactMerged   = catalog.ContactMerged
	typeContactUnmerged = catalog.ContactUnmerged
	typeContactErased   = catalog.ContactErased
	typeCompanyUpdated  = catalog.CompanyUpdated
	typeCompanyDeleted  = catalog.CompanyDeleted
	typeFieldDefined    = catalog.FieldDefined
	typeFieldChanged    = catalog.FieldChanged
	typeFieldDeleted    = catalog.FieldDeleted
	typeLeadSources     = catalog.LeadSourcesChanged
)

// projected are the events the projection applies. It holds only the
// contacts and companies sales references: a new record (created,
// imported) cannot be referenced yet, so those events, most of the topic,
// cost no transaction; a deal naming one asks the contacts service once.
var projected = map[string]bool{typeContactUpdated: true, typeContactDeleted: true,
	typeContactMerged: true, typeContactUnmerged: true, typeContactErased: true,
	typeCompanyUpdated: true, typeCompanyDeleted: true,
	typeFieldDefined: true, typeFieldChanged: true, typeFieldDeleted: true, typeLeadSources: true}

// Projected picks the contacts events the projection applies; the rest of
// the topic (activities, fields, lead sources) costs no transaction.
func Projected(e events.Event) bool { return projected[e.Type] }

// Party is what sales knows of a contact or a company.
type Party struct {
	ID         uuid.UUID
	CompanyID  uuid.UUID
	Name       string
	Deleted    bool
	Erased     bool
	MergedInto uuid.UUID
	Version    int64
	// Access is who sees a contact; nil when sales does not know (a row
	// projected before it was kept, or an event that did not say).
	Access *access.Record
}

func contactParty(c *contactsv1.Contact) Party {
	id, _ := uuid.Parse(c.GetId())
	company, _ := uuid.Parse(c.GetCompanyId())
	p := Party{ID: id, CompanyID: company, Name: strings.TrimSpace(c.GetFirstName() + " " + c.GetLastName()), Version: c.GetVersion()}
	if c.Team != nil {
		p.Access = &access.Record{Owner: c.GetOwnerId(), Team: c.GetTeam(), SharedUsers: c.GetSharedWithUsers(), SharedTeams: c.GetSharedWithTeams()}
	}
	return p
}

func companyParty(c *contactsv1.Company) Party {
	id, _ := uuid.Parse(c.GetId())
	return Party{ID: id, Name: c.GetName(), Version: c.GetVersion()}
}

func parseIDs(ss []string) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ss))
	for _, s := range ss {
		if id, err := uuid.Parse(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// ApplyContactsEvent keeps the projection of the contacts and companies
// sales references, in the consumer's transaction (r): they change and go, merged contacts' deals
// move to the surviving contact (and back on an unmerge), and an erased
// person's name is forgotten.
func (s *Service) ApplyContactsEvent(ctx context.Context, r Projection, e events.Event) error {
	switch e.Type {
	case typeContactUpdated:
		var m contactsv1.ContactUpdated
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.UpdateKnownContacts(ctx, contactParty(m.GetContact()))
	case typeContactDeleted:
		var m contactsv1.ContactDeleted
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.MarkContacts(ctx, parseIDs([]string{m.GetId()}), uuid.Nil)
	case typeContactErased:
		var m contactsv1.ContactErased
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.EraseContact(ctx, parseIDs([]string{m.GetId()})...)
	case typeContactMerged:
		var m contactsv1.ContactMerged
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		target := contactParty(m.GetTarget())
		sources := parseIDs(m.GetMergedIds())
		if err := r.UpsertContacts(ctx, target); err != nil {
			return err
		}
		if err := r.MarkContacts(ctx, sources, target.ID); err != nil {
			return err
		}
		deals, err := r.RelinkDeals(ctx, sources, target.ID, e.Time)
		if err != nil {
			return err
		}
		return s.publishRelinked(ctx, r, e.TenantID, deals, m.GetActorId())
	case typeContactUnmerged:
		var m contactsv1.ContactUnmerged
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		target := contactParty(m.GetTarget())
		restored := make([]Party, 0, len(m.GetRestored()))
		ids := make([]uuid.UUID, 0, len(m.GetRestored()))
		for _, c := range m.GetRestored() {
			p := contactParty(c)
			restored = append(restored, p)
			ids = append(ids, p.ID)
		}
		if err := r.UpsertContacts(ctx, append(restored, target)...); err != nil {
			return err
		}
		if err := r.RestoreContacts(ctx, ids); err != nil {
			return err
		}
		deals, err := r.UnlinkDeals(ctx, target.ID, ids, e.Time)
		if err != nil {
			return err
		}
		return s.publishRelinked(ctx, r, e.TenantID, deals, m.GetActorId())
	case typeCompanyUpdated:
		var m contactsv1.CompanyUpdated
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.UpdateKnownCompanies(ctx, companyParty(m.GetCompany()))
	case typeFieldDefined, typeFieldChanged, typeFieldDeleted:
		var m contactsv1.FieldDefinition
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		if m.GetEntity() != catalog.EntityDeal {
			return nil
		}
		f := FieldOf(&m)
		if e.Type == typeFieldDeleted {
			return r.DeleteField(ctx, f.ID)
		}
		return r.UpsertField(ctx, f)
	case typeLeadSources:
		var m contactsv1.LeadSourcesChanged
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		values := make([]string, 0, len(m.GetSources()))
		for _, src := range m.GetSources() {
			values = append(values, src.GetValue())
		}
		return r.SetLeadSources(ctx, values)
	case typeCompanyDeleted:
		var m contactsv1.CompanyDeleted
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.MarkCompanyDeleted(ctx, parseIDs([]string{m.GetId()})...)
	}
	return nil
}

// FieldOf reads a field definition event.
func FieldOf(m *contactsv1.FieldDefinition) Field {
	id, _ := uuid.Parse(m.GetId())
	opts := make([]customfield.Option, len(m.GetOptions()))
	for i, o := range m.GetOptions() {
		opts[i] = customfield.Option{Value: o, Label: o}
	}
	return Field{ID: id, Version: m.GetVersion(), Def: customfield.Def{Entity: m.GetEntity(), Key: m.GetKey(), Label: m.GetLabel(),
		Type: m.GetType(), Required: m.GetRequired(), Options: opts}}
}

// publishRelinked publishes crm.deal.updated for deals whose contact a
// merge or an unmerge changed.
func (s *Service) publishRelinked(ctx context.Context, r Projection, tenant uuid.UUID, deals []uuid.UUID, actor string) error {
	if len(deals) == 0 {
		return nil
	}
	base := s.settingsOf(tenant).BaseCurrency
	rates, err := rateMap(ctx, r)
	if err != nil {
		return err
	}
	pipelines := map[uuid.UUID]int{}
	for _, id := range deals {
		d, err := r.Deal(ctx, id, false)
		if err != nil {
			return err
		}
		key := d.StageID()
		prob, ok := pipelines[key]
		if !ok {
			pl, err := r.Pipeline(ctx, d.PipelineID(), NoLock)
			if err != nil {
				return err
			}
			if st := pl.Stage(d.StageID()); st != nil {
				prob = st.Probability
			}
			pipelines[key] = prob
		}
		ev, err := dealEvent(TypeDealUpdated, d, prob, base, rates, actor, nil, "", "contact_id")
		if err != nil {
			return err
		}
		if err := r.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
