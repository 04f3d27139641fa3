package service

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	tasksv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tasks/v1"
)

// TasksTopic is the tasks service's topic, whose events tell each deal's
// next step.
const TasksTopic = catalog.TasksTopic

// TaskStep is a task about a deal as sales keeps it.
type TaskStep struct {
	TaskID, DealID uuid.UUID
	Status, Kind   string
	DueAt          *time.Time
	DueDate        string
	Version        int64
	Deleted        bool
}

// TaskSteps keeps the tasks about deals, in the consumer's transaction.
type TaskSteps interface {
	// KeepTaskStep stores a task's newer version (a deleted one goes).
	KeepTaskStep(ctx context.Context, s TaskStep) error
}

var taskEvents = map[string]bool{catalog.TaskCreated: true, catalog.TaskUpdated: true, catalog.TaskCompleted: true,
	catalog.TaskCancelled: true, catalog.TaskDeleted: true, catalog.TaskRescheduled: true, catalog.TaskAttemptsExhausted: true}

// TaskEvent picks the tasks events that change a deal's next step.
func TaskEvent(e events.Event) bool { return taskEvents[e.Type] }

// ApplyTasksEvent keeps the task an event tells of: each deal's next step
// is its open task due first.
func (s *Service) ApplyTasksEvent(ctx context.Context, r TaskSteps, e events.Event) error {
	if e.Type == catalog.TaskAttemptsExhausted {
		var m tasksv1.AttemptsExhausted
		if err := e.Unmarshal(&m); err != nil {
			return err
		}
		deal, _ := uuid.Parse(m.GetTask().GetDealId())
		if !m.GetLoseDeal() || deal == uuid.Nil {
			return nil
		}
		return s.loseUnreached(ctx, e.TenantID, deal, m.GetActorId())
	}
	var m tasksv1.TaskChanged
	if err := e.Unmarshal(&m); err != nil {
		return err
	}
	t := m.GetTask()
	step := TaskStep{Status: t.GetStatus(), Kind: t.GetKind(), DueDate: t.GetDueDate(), Version: t.GetVersion(),
		Deleted: e.Type == catalog.TaskDeleted}
	step.TaskID, _ = uuid.Parse(t.GetId())
	step.DealID, _ = uuid.Parse(t.GetDealId())
	if t.GetDueAt() != nil {
		at := t.GetDueAt().AsTime()
		step.DueAt = &at
	}
	return r.KeepTaskStep(ctx, step)
}

// loseUnreached loses a deal whose client was never reached, for the
// tenant's "could not reach" reason (added again if an admin removed it),
// on behalf of the user whose last call ended the attempts. It writes in
// its own transaction: delivered again, it finds the deal closed and
// does nothing.
func (s *Service) loseUnreached(ctx context.Context, tenant, deal uuid.UUID, actor string) error {
	if actor == "" {
		actor = "tasks"
	}
	ctx = auth.WithPrincipal(ctx, auth.Principal{TenantID: tenant, UserID: actor, Roles: []string{auth.RoleAdmin}})
	name := domain.UnreachedReason(s.settingsOf(tenant).Locale)
	reasons, err := s.LossReasons(ctx, false)
	if err != nil {
		return err
	}
	var reason *domain.LossReason
	for _, lr := range reasons {
		if strings.EqualFold(lr.Name(), name) {
			reason = lr
		}
	}
	if reason == nil {
		if reason, err = s.AddLossReason(ctx, name); err != nil {
			return err
		}
	}
	_, err = s.LoseDeal(ctx, deal, access.IfMatch{}, uuid.Nil, reason.ID(), "")
	switch apperr.KindOf(err) {
	case apperr.KindConflict, apperr.KindNotFound:
		return nil // closed or deleted meanwhile
	}
	return err
}
