package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// DealSteps reads a deal's next steps in a write's transaction.
type DealSteps interface {
	// Deal locks deal's tasks until the transaction ends, then reads its
	// status ("" when unknown) and how many open tasks it has besides
	// except.
	Deal(ctx context.Context, deal, except uuid.UUID) (status string, others int, err error)
}

// ErrNextStepRequired answers closing, deleting or moving away the last
// open task of an open deal without planning the next (discipline strict).
var ErrNextStepRequired = apperr.New(apperr.KindConflict, "next-step-required",
	"this is the deal's last open task: plan the next step with it (next: {…}), or close the deal")

// warnNoNextStep is what discipline warn says instead.
const warnNoNextStep = "next-step-missing: the deal has no open task left; plan its next step"

// keepNextStep applies the tenant's next-step discipline to a write of t
// (deleted: the write deletes it), which was about deal: an open deal
// must keep an open task — t itself, one the write plans, or another.
// Strict refuses (409 next-step-required), warn answers a warning, off
// says nothing.
func (s *Service) keepNextStep(ctx context.Context, w DealSteps, tenant, deal uuid.UUID, t *domain.Task, deleted bool, planned []*domain.Task) (string, error) {
	if deal == uuid.Nil || (!deleted && t.Status() == domain.StatusOpen && t.Fields().DealID == deal) {
		return "", nil
	}
	for _, p := range planned {
		if p.Fields().DealID == deal && p.Status() == domain.StatusOpen {
			return "", nil
		}
	}
	status, others, err := w.Deal(ctx, deal, t.ID())
	if err != nil || status != "open" || others > 0 {
		return "", err
	}
	settings, err := s.config.Settings(ctx, tenant)
	if err != nil {
		return "", err
	}
	switch settings.Discipline {
	case domain.DisciplineStrict:
		return "", ErrNextStepRequired
	case domain.DisciplineWarn:
		return warnNoNextStep, nil
	}
	return "", nil
}
