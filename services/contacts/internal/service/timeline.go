package service

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	tasksv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tasks/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Timelines reads the contacts' timelines.
type Timelines interface {
	// Timeline pages through what happened to a contact, newest first.
	Timeline(ctx context.Context, contactID uuid.UUID, limit int, after Cursor) (Page[domain.TimelineEntry], error)
}

// TimelineTopics are the topics of the services that publish about
// contacts; the timeline consumer files their events. This service's own
// events are filed by the writes that publish them.
var TimelineTopics = catalog.TopicsAboutContacts("contacts")

// AboutContacts picks, for the timeline consumer, the events that name
// contacts; the rest of those topics costs no transaction.
func AboutContacts(e events.Event) bool { return e.Extensions[events.ExtContactID] != "" }

// TimelineChange is what one event does to the timelines.
type TimelineChange struct {
	Add    []domain.TimelineEntry
	Remove uuid.UUID // an entry to take out (a deleted activity), or uuid.Nil
}

// TimelineOf says what an event does to the contacts' timelines. A contact's
// own changes and activities come from this service's events; any other
// service's event names its contacts in the contactid extension.
func TimelineOf(e events.Event) (TimelineChange, error) {
	entry := func(contact string, data map[string]any, actor string) []domain.TimelineEntry {
		id, err := uuid.Parse(contact)
		if err != nil {
			return nil
		}
		return []domain.TimelineEntry{{ID: e.ID, ContactID: id, At: e.Time, Type: e.Type, Source: e.Source, Actor: actor, Data: data}}
	}
	switch e.Type {
	case TypeCreated:
		var m contactsv1.ContactCreated
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		return TimelineChange{Add: entry(m.GetContact().GetId(), map[string]any{"version": m.GetContact().GetVersion()}, m.GetActorId())}, nil
	case TypeImported:
		var m contactsv1.ContactsImported
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		var ch TimelineChange
		for _, c := range m.GetContacts() {
			ch.Add = append(ch.Add, entry(c.GetId(), map[string]any{"version": c.GetVersion(), "import_id": m.GetImportId()}, m.GetActorId())...)
		}
		return ch, nil
	case TypeUpdated:
		var m contactsv1.ContactUpdated
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		return TimelineChange{Add: entry(m.GetContact().GetId(), map[string]any{"version": m.GetContact().GetVersion(),
			"changed_fields": m.GetChangedFields()}, m.GetActorId())}, nil
	case TypeActivityLogged:
		var m contactsv1.ActivityLogged
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		a := m.GetActivity()
		if a.GetContactId() == "" {
			return TimelineChange{}, nil
		}
		es := entry(a.GetContactId(), map[string]any{"activity_id": a.GetId(), "kind": a.GetKind(), "direction": a.GetDirection(),
			"subject": a.GetSubject(), "outcome": a.GetOutcome(), "duration_seconds": a.GetDurationSeconds(), "deal_id": a.GetDealId()},
			a.GetOwnerId())
		// An activity sits in the timeline when it happened, under its own id,
		// so that deleting it finds the entry.
		for i := range es {
			es[i].ID, _ = uuid.Parse(a.GetId())
			es[i].At = a.GetOccurredAt().AsTime()
		}
		return TimelineChange{Add: es}, nil
	case TypeMerged, TypeUnmerged:
		return mergeTimeline(e)
	case catalog.TaskCreated, catalog.TaskUpdated, catalog.TaskCompleted, catalog.TaskCancelled, catalog.TaskDeleted,
		catalog.TaskRescheduled, catalog.TaskAttemptsExhausted:
		// A task about the contact: what was planned, and how it ended.
		var m interface {
			proto.Message
			GetTask() *tasksv1.Task
			GetActorId() string
		} = &tasksv1.TaskChanged{}
		if e.Type == catalog.TaskAttemptsExhausted {
			m = &tasksv1.AttemptsExhausted{}
		}
		if err := e.Unmarshal(m); err != nil {
			return TimelineChange{}, err
		}
		t := m.GetTask()
		data := map[string]any{"task_id": t.GetId(), "kind": t.GetKind(), "subject": t.GetSubject(), "status": t.GetStatus(),
			"outcome": t.GetOutcome(), "result": t.GetResult(), "attempt": t.GetAttempt(), "deal_id": t.GetDealId()}
		if t.GetDueAt() != nil {
			data["due_at"] = t.GetDueAt().AsTime()
		}
		return TimelineChange{Add: entry(t.GetContactId(), data, m.GetActorId())}, nil
	case TypeActivityDeleted:
		var m contactsv1.ActivityDeleted
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		id, _ := uuid.Parse(m.GetId())
		return TimelineChange{Remove: id}, nil
	}
	if e.Source == Source {
		return TimelineChange{}, nil // companies, deletions: not a contact's history
	}
	var ch TimelineChange
	for _, c := range strings.Split(e.Extensions[events.ExtContactID], ",") {
		ch.Add = append(ch.Add, entry(strings.TrimSpace(c), map[string]any{"subject": e.Subject}, "")...)
	}
	return ch, nil
}
