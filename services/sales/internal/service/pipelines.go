package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// ListPipelines returns the tenant's pipelines with their stages.
func (s *Service) ListPipelines(ctx context.Context) ([]*domain.Pipeline, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.Pipelines.Pipelines(ctx, p.TenantID)
}

// GetPipeline returns one pipeline.
func (s *Service) GetPipeline(ctx context.Context, id uuid.UUID) (*domain.Pipeline, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.Pipelines.Pipeline(ctx, p.TenantID, id)
}

// CreatePipeline creates a pipeline; without stages it gets the default ones.
func (s *Service) CreatePipeline(ctx context.Context, name string, stages []domain.StageSpec) (*domain.Pipeline, error) {
	p, err := configurer(ctx)
	if err != nil {
		return nil, err
	}
	pl, err := domain.NewPipeline(p.TenantID, name, stages, s.settingsOf(p.TenantID).Locale, s.now())
	if err != nil {
		return nil, err
	}
	err = s.db.Pipelines.CreatePipeline(ctx, pl, func(pl *domain.Pipeline) ([]events.Event, error) {
		ev, err := pipelineEvent(pl, p.UserID, false, nil)
		return []events.Event{ev}, err
	})
	return pl, err
}

// changePipeline locks a pipeline, checks If-Match, lets change alter it
// (and name the events of the deals it moved), stores it with the next
// version and publishes crm.pipeline.changed after change's events.
func (s *Service) changePipeline(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch,
	change func(r StageDeals, p auth.Principal, pl *domain.Pipeline, now time.Time) (moved map[string]string, evs []events.Event, err error)) (*domain.Pipeline, error) {
	p, err := configurer(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.Pipelines.UpdatePipeline(ctx, p.TenantID, id, func(r StageDeals, pl *domain.Pipeline) ([]events.Event, error) {
		if err := ifMatch.Check(pl.Version()); err != nil {
			return nil, err
		}
		now := s.now()
		moved, evs, err := change(r, p, pl, now)
		if err != nil {
			return nil, err
		}
		pl.Advance(now)
		ev, err := pipelineEvent(pl, p.UserID, false, moved)
		return append(evs, ev), err
	})
}

// RenamePipeline changes a pipeline's name.
func (s *Service) RenamePipeline(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, name string) (*domain.Pipeline, error) {
	return s.changePipeline(ctx, id, ifMatch, func(_ StageDeals, _ auth.Principal, pl *domain.Pipeline, _ time.Time) (map[string]string, []events.Event, error) {
		return nil, nil, pl.Rename(name)
	})
}

// DeletePipeline deletes a pipeline that holds no deals.
func (s *Service) DeletePipeline(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := configurer(ctx)
	if err != nil {
		return err
	}
	return s.db.Pipelines.DeletePipeline(ctx, p.TenantID, id, func(r StageDeals, pl *domain.Pipeline) ([]events.Event, error) {
		if err := ifMatch.Check(pl.Version()); err != nil {
			return nil, err
		}
		if has, err := r.PipelineHasDeals(ctx, id); err != nil || has {
			if err == nil {
				err = domain.ErrPipelineHasDeals
			}
			return nil, err
		}
		ev, err := pipelineEvent(pl, p.UserID, true, nil)
		return []events.Event{ev}, err
	})
}

// AddStage adds a stage to a pipeline (at position, or last).
func (s *Service) AddStage(ctx context.Context, pipeline uuid.UUID, ifMatch access.IfMatch, spec domain.StageSpec, position *int) (*domain.Pipeline, domain.Stage, error) {
	var st domain.Stage
	pl, err := s.changePipeline(ctx, pipeline, ifMatch, func(_ StageDeals, _ auth.Principal, pl *domain.Pipeline, _ time.Time) (map[string]string, []events.Event, error) {
		var err error
		st, err = pl.AddStage(spec, position)
		return nil, nil, err
	})
	return pl, st, err
}

// ChangeStage renames, recolours, re-weighs or re-kinds a stage. A stage
// that holds deals keeps its kind: the deals' status follows the kind.
func (s *Service) ChangeStage(ctx context.Context, pipeline, stage uuid.UUID, ifMatch access.IfMatch, spec domain.StageSpec) (*domain.Pipeline, domain.Stage, error) {
	var st domain.Stage
	pl, err := s.changePipeline(ctx, pipeline, ifMatch, func(r StageDeals, _ auth.Principal, pl *domain.Pipeline, _ time.Time) (map[string]string, []events.Event, error) {
		before := pl.Stage(stage)
		if before == nil {
			return nil, nil, domain.ErrStageNotFound
		}
		kind := before.Kind
		var err error
		if st, err = pl.ChangeStage(stage, spec); err != nil {
			return nil, nil, err
		}
		if st.Kind != kind {
			if has, err := r.StageHasDeals(ctx, stage); err != nil || has {
				if err == nil {
					err = errKindWithDeals
				}
				return nil, nil, err
			}
		}
		return nil, nil, nil
	})
	return pl, st, err
}

// ReorderStages puts a pipeline's stages in the given order.
func (s *Service) ReorderStages(ctx context.Context, pipeline uuid.UUID, ifMatch access.IfMatch, ids []uuid.UUID) (*domain.Pipeline, error) {
	return s.changePipeline(ctx, pipeline, ifMatch, func(_ StageDeals, _ auth.Principal, pl *domain.Pipeline, _ time.Time) (map[string]string, []events.Event, error) {
		return nil, nil, pl.Reorder(ids)
	})
}

// DeleteStage deletes a stage; its deals move to moveTo first (each move
// recorded and published as crm.deal.stage_changed), and a stage that holds
// deals without moveTo stays.
func (s *Service) DeleteStage(ctx context.Context, pipeline, stage uuid.UUID, ifMatch access.IfMatch, moveTo uuid.UUID) (*domain.Pipeline, error) {
	return s.changePipeline(ctx, pipeline, ifMatch, func(r StageDeals, p auth.Principal, pl *domain.Pipeline, now time.Time) (map[string]string, []events.Event, error) {
		var from, to domain.Stage
		if st := pl.Stage(stage); st != nil {
			from = *st
		}
		if moveTo != uuid.Nil {
			if st := pl.Stage(moveTo); st != nil {
				to = *st
			}
		}
		if err := pl.RemoveStage(stage, moveTo); err != nil {
			return nil, nil, err
		}
		if moveTo == uuid.Nil {
			has, err := r.StageHasDeals(ctx, stage)
			if err == nil && has {
				err = domain.ErrStageHasDeals
			}
			return nil, nil, err
		}
		// The deals handed over meet the requirements of the stage they enter.
		if to.Kind != domain.KindLost && len(to.RequiredFields) > 0 {
			missing, err := r.StageDealsMissing(ctx, stage, to.RequiredFields)
			if err != nil {
				return nil, nil, err
			}
			if len(missing) > 0 {
				return nil, nil, domain.ErrMissingRequired(to.Name, missing)
			}
		}
		moved, err := r.MoveStageDeals(ctx, stage, to, p.UserID, now)
		if err != nil || len(moved) == 0 {
			return nil, nil, err
		}
		base := s.settingsOf(p.TenantID).BaseCurrency
		rates, err := rateMap(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		evs := make([]events.Event, 0, len(moved))
		for _, m := range moved {
			t := domain.Transition{Move: m.Move, From: from, SecondsInPrevious: int64(now.Sub(m.WasEnteredAt) / time.Second)}
			ev, err := dealEvent(TypeDealStageChanged, m.Deal, to.Probability, base, rates, p.UserID, &t, "")
			if err != nil {
				return nil, nil, err
			}
			evs = append(evs, ev)
		}
		return map[string]string{stage.String(): moveTo.String()}, evs, nil
	})
}
