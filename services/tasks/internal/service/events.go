package service

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	tasksv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tasks/v1"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// The tasks service's topic, source and event types (pkg/catalog names them).
const (
	Topic             = catalog.TasksTopic
	Source            = "/rapport/tasks"
	TypeTaskCreated   = catalog.TaskCreated
	TypeTaskUpdated   = catalog.TaskUpdated
	TypeTaskCompleted = catalog.TaskCompleted
	TypeTaskCancelled = catalog.TaskCancelled
	TypeTaskDeleted   = catalog.TaskDeleted
	// TypeTaskRescheduled is a task an outcome planned: the next attempt.
	TypeTaskRescheduled = catalog.TaskRescheduled
	// TypeAttemptsExhausted ends a chain whose ladder is climbed.
	TypeAttemptsExhausted = catalog.TaskAttemptsExhausted
	// TypeDueSoon and TypeOverdue are a task's due-time events.
	TypeDueSoon = catalog.TaskDueSoon
	TypeOverdue = catalog.TaskOverdue
)

// The due-time events, as timers name them.
const (
	DueSoon = "due_soon"
	Overdue = "overdue"
)

// DueEvents are the events of tasks whose due-time event (due_soon or
// overdue) fell due: one each, about the task as it is.
func DueEvents(event string, tasks []*domain.Task) ([]events.Event, error) {
	typ := TypeOverdue
	if event == DueSoon {
		typ = TypeDueSoon
	}
	out := make([]events.Event, 0, len(tasks))
	for _, t := range tasks {
		e, err := events.New(Topic, Source, typ, t.TenantID(), t.ID().String(), &tasksv1.TaskChanged{Task: TaskMessage(t)})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// TaskMessage is t as events carry it.
func TaskMessage(t *domain.Task) *tasksv1.Task {
	f := t.Fields()
	created, updated := t.CreatedAt(), t.UpdatedAt()
	return &tasksv1.Task{Id: t.ID().String(), TenantId: t.TenantID().String(), Kind: f.Kind, Subject: f.Subject, Note: f.Note,
		DueAt: ts(f.DueAt), DueDate: f.DueDate, DurationMinutes: int32(f.DurationMinutes), Priority: f.Priority,
		OwnerId: f.OwnerID, Team: f.Team, Status: t.Status(), Outcome: t.Outcome(), Result: t.Result(),
		ClosedBy: t.ClosedBy(), ClosedAt: ts(t.ClosedAt()), Version: t.Version(), CreatedAt: ts(&created), UpdatedAt: ts(&updated),
		DealId: ids.String(f.DealID), ContactId: ids.String(f.ContactID), CompanyId: ids.String(f.CompanyID),
		PreviousTaskId: ids.String(t.Chain().PreviousID), Attempt: int32(t.Chain().Attempt), ClientTimeZone: t.ClientZone()}
}

// taskEvents is the event of typ for t, by actor.
func taskEvents(typ string, t *domain.Task, actor string, changed ...string) ([]events.Event, error) {
	e, err := events.New(Topic, Source, typ, t.TenantID(), t.ID().String(),
		&tasksv1.TaskChanged{Task: TaskMessage(t), ActorId: actor, ChangedFields: changed})
	// The contact's timeline files it.
	if c := t.Fields().ContactID; c != uuid.Nil {
		e.Extensions = map[string]string{events.ExtContactID: c.String()}
	}
	return []events.Event{e}, err
}

// exhaustedEvent says t's chain of attempts ended without reaching the
// client; loseDeal tells sales to lose t's deal (the tenant's setting).
func exhaustedEvent(t *domain.Task, actor string, loseDeal bool) (events.Event, error) {
	e, err := events.New(Topic, Source, TypeAttemptsExhausted, t.TenantID(), t.ID().String(),
		&tasksv1.AttemptsExhausted{Task: TaskMessage(t), ActorId: actor, Attempts: int32(t.Chain().Attempt),
			LoseDeal: loseDeal && t.Fields().DealID != uuid.Nil})
	if c := t.Fields().ContactID; c != uuid.Nil {
		e.Extensions = map[string]string{events.ExtContactID: c.String()}
	}
	return e, err
}
