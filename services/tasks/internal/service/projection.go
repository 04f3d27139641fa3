package service

import (
	"context"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	salesv1 "github.com/rapportcrm/rapport/pkg/gen/crm/sales/v1"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// The topics the projection reads.
const (
	ContactsTopic = catalog.ContactsTopic
	SalesTopic    = catalog.SalesTopic
)

// Projection keeps what tasks knows of contacts, companies and deals, in
// the consumer's transaction. Every upsert replaces a row only with a newer
// version of its record.
type Projection interface {
	UpsertContacts(ctx context.Context, ks ...Known) error
	// MarkContacts marks contacts deleted, or merged into another (uuid.Nil: deleted).
	MarkContacts(ctx context.Context, ids []uuid.UUID, mergedInto uuid.UUID) error
	UpsertCompanies(ctx context.Context, ks ...Known) error
	MarkCompaniesDeleted(ctx context.Context, ids ...uuid.UUID) error
	UpsertDeal(ctx context.Context, k Known) error
	// RetimeTasks sets the client time zone of the tasks about a contact,
	// directly or through one of its deals.
	RetimeTasks(ctx context.Context, contact uuid.UUID) error
	// RelinkTasks moves the tasks of the from contacts to the to contact
	// (their next version, at now) and returns them; UnlinkTasks gives the
	// restored contacts back the tasks a merge moved to target.
	RelinkTasks(ctx context.Context, from []uuid.UUID, to uuid.UUID, now time.Time) ([]*domain.Task, error)
	UnlinkTasks(ctx context.Context, target uuid.UUID, restored []uuid.UUID, now time.Time) ([]*domain.Task, error)
	// RestoreContacts brings back contacts an unmerge restored.
	RestoreContacts(ctx context.Context, ks ...Known) error
	// Publish stores events in the outbox in the same transaction.
	Publish(ctx context.Context, evs ...events.Event) error
	// Deal locks the deal's tasks until the transaction ends and reads its
	// status and how many open tasks it has besides except.
	Deal(ctx context.Context, deal, except uuid.UUID) (status string, others int, err error)
	// OpenTasksOfDeal locks and reads the deal's open tasks.
	OpenTasksOfDeal(ctx context.Context, deal uuid.UUID) ([]*domain.Task, error)
	// Planning reads the settings and the calendars of users and the default.
	Planning(ctx context.Context, users ...string) (PlanContext, error)
	// ContactZone is a contact's time zone ("" unknown).
	ContactZone(ctx context.Context, contact uuid.UUID) (string, error)
	// Save inserts the created tasks and stores the changed ones.
	Save(ctx context.Context, created, changed []*domain.Task) error
}

var projected = map[string]bool{
	catalog.ContactCreated: true, catalog.ContactUpdated: true, catalog.ContactsImported: true, catalog.ContactDeleted: true,
	catalog.ContactErased: true, catalog.ContactMerged: true, catalog.ContactUnmerged: true,
	catalog.CompanyCreated: true, catalog.CompanyUpdated: true, catalog.CompaniesImported: true, catalog.CompanyDeleted: true,
	catalog.DealCreated: true, catalog.DealUpdated: true, catalog.DealStageChanged: true, catalog.DealWon: true,
	catalog.DealLost: true, catalog.DealReopened: true, catalog.DealDeleted: true,
}

// Projected picks the events the projection applies; the rest of those
// topics (activities, fields, pipelines) costs no transaction.
func Projected(e events.Event) bool { return projected[e.Type] }

func parseID(s string) uuid.UUID {
	id, _ := uuid.Parse(s)
	return id
}

func contactKnown(c *contactsv1.Contact) Known {
	return Known{ID: parseID(c.GetId()), TimeZone: c.GetTimezone(), Version: c.GetVersion(),
		Access: &access.Record{Owner: c.GetOwnerId(), Team: c.GetTeam(), SharedUsers: c.GetSharedWithUsers(), SharedTeams: c.GetSharedWithTeams()}}
}

func companyKnown(c *contactsv1.Company) Known {
	return Known{ID: parseID(c.GetId()), Version: c.GetVersion(), Access: &everyone}
}

func dealKnown(d *salesv1.Deal) Known {
	return Known{ID: parseID(d.GetId()), ContactID: parseID(d.GetContactId()), CompanyID: parseID(d.GetCompanyId()),
		OwnerID: d.GetOwnerId(), Team: d.GetTeam(), Status: d.GetStatus(), Version: d.GetVersion(),
		Access: &access.Record{Owner: d.GetOwnerId(), Team: d.GetTeam()}}
}

// aboutDeal is a deal event's message: every one carries the deal.
type aboutDeal interface {
	proto.Message
	GetDeal() *salesv1.Deal
}

func dealMessage(typ string) aboutDeal {
	switch typ {
	case catalog.DealCreated:
		return &salesv1.DealCreated{}
	case catalog.DealStageChanged:
		return &salesv1.DealStageChanged{}
	case catalog.DealWon:
		return &salesv1.DealWon{}
	case catalog.DealLost:
		return &salesv1.DealLost{}
	case catalog.DealReopened:
		return &salesv1.DealReopened{}
	case catalog.DealDeleted:
		return &salesv1.DealDeleted{}
	}
	return &salesv1.DealUpdated{}
}

// publishMoved publishes crm.task.updated for tasks a merge or an unmerge
// moved to another contact.
func (s *Service) publishMoved(ctx context.Context, r Projection, moved []*domain.Task, actor string) error {
	for _, t := range moved {
		evs, err := taskEvents(TypeTaskUpdated, t, actor, "contact_id")
		if err != nil {
			return err
		}
		if err := r.Publish(ctx, evs...); err != nil {
			return err
		}
	}
	return nil
}

// ApplyEvent keeps the projection from one event of the contacts or the
// sales service, in the consumer's transaction r.
func (s *Service) ApplyEvent(ctx context.Context, r Projection, e events.Event) error {
	switch e.Type {
	case catalog.ContactCreated, catalog.ContactUpdated:
		var m interface {
			proto.Message
			GetContact() *contactsv1.Contact
		} = &contactsv1.ContactUpdated{}
		if e.Type == catalog.ContactCreated {
			m = &contactsv1.ContactCreated{}
		}
		if err := e.Unmarshal(m); err != nil {
			return err
		}
		k := contactKnown(m.GetContact())
		if err := r.UpsertContacts(ctx, k); err != nil {
			return err
		}
		return r.RetimeTasks(ctx, k.ID)
	case catalog.ContactsImported:
		var m contactsv1.ContactsImported
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		ks := make([]Known, 0, len(m.GetContacts()))
		for _, c := range m.GetContacts() {
			ks = append(ks, contactKnown(c))
		}
		return r.UpsertContacts(ctx, ks...)
	case catalog.ContactDeleted:
		var m contactsv1.ContactDeleted
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.MarkContacts(ctx, []uuid.UUID{parseID(m.GetId())}, uuid.Nil)
	case catalog.ContactErased:
		var m contactsv1.ContactErased
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.MarkContacts(ctx, []uuid.UUID{parseID(m.GetId())}, uuid.Nil)
	case catalog.ContactMerged:
		var m contactsv1.ContactMerged
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		target := contactKnown(m.GetTarget())
		merged := make([]uuid.UUID, 0, len(m.GetMergedIds()))
		for _, id := range m.GetMergedIds() {
			merged = append(merged, parseID(id))
		}
		if err := r.UpsertContacts(ctx, target); err != nil {
			return err
		}
		if err := r.MarkContacts(ctx, merged, target.ID); err != nil {
			return err
		}
		moved, err := r.RelinkTasks(ctx, merged, target.ID, s.now())
		if err != nil {
			return err
		}
		if err := s.publishMoved(ctx, r, moved, m.GetActorId()); err != nil {
			return err
		}
		return r.RetimeTasks(ctx, target.ID)
	case catalog.ContactUnmerged:
		// The restored contacts are themselves again, with the tasks the
		// merge had moved to the one that remained.
		var m contactsv1.ContactUnmerged
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		target := contactKnown(m.GetTarget())
		if err := r.UpsertContacts(ctx, target); err != nil {
			return err
		}
		restored := make([]Known, 0, len(m.GetRestored()))
		ids := make([]uuid.UUID, 0, len(m.GetRestored()))
		for _, c := range m.GetRestored() {
			k := contactKnown(c)
			restored, ids = append(restored, k), append(ids, k.ID)
		}
		if err := r.RestoreContacts(ctx, restored...); err != nil {
			return err
		}
		back, err := r.UnlinkTasks(ctx, target.ID, ids, s.now())
		if err != nil {
			return err
		}
		if err := s.publishMoved(ctx, r, back, m.GetActorId()); err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.RetimeTasks(ctx, id); err != nil {
				return err
			}
		}
		return nil
	case catalog.CompanyCreated, catalog.CompanyUpdated:
		var m interface {
			proto.Message
			GetCompany() *contactsv1.Company
		} = &contactsv1.CompanyUpdated{}
		if e.Type == catalog.CompanyCreated {
			m = &contactsv1.CompanyCreated{}
		}
		if err := e.Unmarshal(m); err != nil {
			return err
		}
		return r.UpsertCompanies(ctx, companyKnown(m.GetCompany()))
	case catalog.CompaniesImported:
		var m contactsv1.CompaniesImported
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		ks := make([]Known, 0, len(m.GetCompanies()))
		for _, c := range m.GetCompanies() {
			ks = append(ks, companyKnown(c))
		}
		return r.UpsertCompanies(ctx, ks...)
	case catalog.CompanyDeleted:
		var m contactsv1.CompanyDeleted
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		return r.MarkCompaniesDeleted(ctx, parseID(m.GetId()))
	case catalog.DealCreated, catalog.DealUpdated, catalog.DealStageChanged, catalog.DealWon, catalog.DealLost,
		catalog.DealReopened, catalog.DealDeleted:
		m := dealMessage(e.Type)
		if err := e.Unmarshal(m); err != nil {
			return err
		}
		k := dealKnown(m.GetDeal())
		k.Deleted = e.Type == catalog.DealDeleted
		if err := r.UpsertDeal(ctx, k); err != nil {
			return err
		}
		return s.followDeal(ctx, r, e, m)
	}
	return nil
}
