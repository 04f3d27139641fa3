package service

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

var errKindWithDeals = apperr.New(apperr.KindConflict, "stage-has-deals",
	"the stage holds deals and its kind is their status; move them to another stage before changing the kind")

// DealView is a deal with what its readers need next to it.
type DealView struct {
	*domain.Deal
	// Probability is the deal's stage's.
	Probability int
	StageTimes  []domain.StageTime
}

// CreateDeal creates a deal in a pipeline (the first one when none is given)
// at its first open stage unless a stage is given.
func (s *Service) CreateDeal(ctx context.Context, f domain.Fields) (*DealView, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if f.OwnerID == nil {
		f.OwnerID = &p.UserID
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	var view *DealView
	err = s.store.Tx(ctx, p.TenantID, func(r Repo) error {
		pl, err := s.pipelineFor(ctx, r, f.PipelineID)
		if err != nil {
			return err
		}
		now := s.now()
		d, err := domain.NewDeal(p.TenantID, f, pl, base, now)
		if err != nil {
			return err
		}
		d.Team = p.Team
		rates, err := s.ratesFor(ctx, r, base, d.Currency)
		if err != nil {
			return err
		}
		mid, _ := uuid.NewV7()
		first := domain.Move{ID: mid, DealID: d.ID, ToStageID: d.StageID, ActorID: p.UserID, At: now}
		if err := r.InsertDeal(ctx, d, first); err != nil {
			return err
		}
		st := pl.Stage(d.StageID)
		ev, err := dealEvent(TypeDealCreated, d, st.Probability, base, rates, p.UserID, nil, "")
		if err != nil {
			return err
		}
		view = &DealView{Deal: d, Probability: st.Probability, StageTimes: domain.StageTimes([]domain.Move{first}, now)}
		return r.Publish(ctx, ev)
	})
	return view, err
}

// pipelineFor is the pipeline named, or the tenant's first one.
func (s *Service) pipelineFor(ctx context.Context, r Repo, id *uuid.UUID) (*domain.Pipeline, error) {
	if id != nil {
		pl, err := r.Pipeline(ctx, *id, false)
		if err == domain.ErrPipelineNotFound {
			var v apperr.Invalid
			v.Add("pipeline_id", "no such pipeline")
			return nil, v.Err()
		}
		return pl, err
	}
	all, err := r.Pipelines(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		var v apperr.Invalid
		v.Add("pipeline_id", "the tenant has no pipeline yet; create one first")
		return nil, v.Err()
	}
	return all[0], nil
}

// ratesFor returns the tenant's rates, refusing a deal currency without one.
func (s *Service) ratesFor(ctx context.Context, r Repo, base, cur string) (map[string]domain.Rate, error) {
	rates, err := rateMap(ctx, r)
	if err != nil {
		return nil, err
	}
	if _, ok := rates[cur]; !ok && cur != base {
		return nil, domain.ErrNoRate("currency", cur, base)
	}
	return rates, nil
}

func rateMap(ctx context.Context, r Repo) (map[string]domain.Rate, error) {
	list, err := r.Rates(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]domain.Rate, len(list))
	for _, x := range list {
		m[x.Currency] = x.Rate
	}
	return m, nil
}

// readDeal reads a deal the caller may see.
func readDeal(ctx context.Context, r Repo, p auth.Principal, id uuid.UUID, lock bool) (*domain.Deal, error) {
	d, err := r.Deal(ctx, id, lock)
	if err != nil {
		return nil, err
	}
	if !viewerOf(p).Sees(d) {
		return nil, domain.ErrDealNotFound
	}
	return d, nil
}

// GetDeal returns a deal with the time it spent in each stage.
func (s *Service) GetDeal(ctx context.Context, id uuid.UUID) (*DealView, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var view *DealView
	err = s.store.Tx(ctx, p.TenantID, func(r Repo) error {
		d, err := readDeal(ctx, r, p, id, false)
		if err != nil {
			return err
		}
		view, err = s.viewOf(ctx, r, d, nil)
		return err
	})
	return view, err
}

func (s *Service) viewOf(ctx context.Context, r Repo, d *domain.Deal, pl *domain.Pipeline) (*DealView, error) {
	moves, err := r.Moves(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	if pl == nil {
		if pl, err = r.Pipeline(ctx, d.PipelineID, false); err != nil {
			return nil, err
		}
	}
	v := &DealView{Deal: d, StageTimes: domain.StageTimes(moves, s.now())}
	if st := pl.Stage(d.StageID); st != nil {
		v.Probability = st.Probability
	}
	return v, nil
}

// DealMoves lists a deal's moves, oldest first.
func (s *Service) DealMoves(ctx context.Context, id uuid.UUID) ([]domain.Move, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var moves []domain.Move
	err = s.store.Tx(ctx, p.TenantID, func(r Repo) error {
		if _, err := readDeal(ctx, r, p, id, false); err != nil {
			return err
		}
		moves, err = r.Moves(ctx, id)
		return err
	})
	return moves, err
}

// dealChange locks a visible deal, checks If-Match, lets change alter it
// (returning the event to publish), then stores it with the next version.
func (s *Service) dealChange(ctx context.Context, id uuid.UUID, ifMatch int64,
	change func(r Repo, p auth.Principal, d *domain.Deal, pl *domain.Pipeline, now time.Time) (eventType string, t *domain.Transition, reason string, err error)) (*DealView, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	var view *DealView
	err = s.store.Tx(ctx, p.TenantID, func(r Repo) error {
		d, err := readDeal(ctx, r, p, id, true)
		if err != nil {
			return err
		}
		if err := checkVersion(ifMatch, d.Version); err != nil {
			return err
		}
		pl, err := r.Pipeline(ctx, d.PipelineID, false)
		if err != nil {
			return err
		}
		now := s.now()
		typ, t, reason, err := change(r, p, d, pl, now)
		if err != nil {
			return err
		}
		rates, err := s.ratesFor(ctx, r, base, d.Currency)
		if err != nil {
			return err
		}
		d.Version++
		d.UpdatedAt = now
		if err := r.UpdateDeal(ctx, d); err != nil {
			return err
		}
		if t != nil {
			if err := r.InsertMove(ctx, t.Move); err != nil {
				return err
			}
		}
		if view, err = s.viewOf(ctx, r, d, pl); err != nil {
			return err
		}
		ev, err := dealEvent(typ, d, view.Probability, base, rates, p.UserID, t, reason)
		if err != nil {
			return err
		}
		return r.Publish(ctx, ev)
	})
	return view, err
}

// UpdateDeal changes a deal's fields other than its stage.
func (s *Service) UpdateDeal(ctx context.Context, id uuid.UUID, ifMatch int64, f domain.Fields) (*DealView, error) {
	if f.PipelineID != nil || f.StageID != nil {
		var v apperr.Invalid
		v.Add("stage_id", "a deal changes stage with POST /v1/deals/{id}/move, /win, /lose or /reopen")
		return nil, v.Err()
	}
	return s.dealChange(ctx, id, ifMatch, func(_ Repo, _ auth.Principal, d *domain.Deal, pl *domain.Pipeline, _ time.Time) (string, *domain.Transition, string, error) {
		var v apperr.Invalid
		d.Apply(&v, f)
		if err := v.Err(); err != nil {
			return "", nil, "", err
		}
		// The deal's own stage keeps demanding what it demanded on entry.
		if st := pl.Stage(d.StageID); st != nil {
			if missing := d.Missing(st); len(missing) > 0 {
				return "", nil, "", domain.ErrMissingRequired(st.Name, missing)
			}
		}
		return TypeDealUpdated, nil, "", nil
	})
}

// MoveDeal moves an open deal to another open stage of its pipeline.
func (s *Service) MoveDeal(ctx context.Context, id uuid.UUID, ifMatch int64, stage uuid.UUID) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, func(_ Repo, p auth.Principal, d *domain.Deal, pl *domain.Pipeline, now time.Time) (string, *domain.Transition, string, error) {
		t, err := d.MoveTo(pl, stage, p.UserID, now)
		return TypeDealStageChanged, &t, "", err
	})
}

// WinDeal closes an open deal as won.
func (s *Service) WinDeal(ctx context.Context, id uuid.UUID, ifMatch int64, stage uuid.UUID) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, func(_ Repo, p auth.Principal, d *domain.Deal, pl *domain.Pipeline, now time.Time) (string, *domain.Transition, string, error) {
		t, err := d.Close(pl, domain.KindWon, stage, p.UserID, now)
		return TypeDealWon, &t, "", err
	})
}

// LoseDeal closes an open deal as lost, for a reason.
func (s *Service) LoseDeal(ctx context.Context, id uuid.UUID, ifMatch int64, stage, reason uuid.UUID, comment string) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, func(r Repo, p auth.Principal, d *domain.Deal, pl *domain.Pipeline, now time.Time) (string, *domain.Transition, string, error) {
		var v apperr.Invalid
		if reason == uuid.Nil {
			v.Add("reason_id", "is required: say why the deal was lost (GET /v1/loss-reasons)")
		}
		if len([]rune(comment)) > 2000 {
			v.Add("comment", "must be at most 2000 characters")
		}
		if err := v.Err(); err != nil {
			return "", nil, "", err
		}
		lr, err := r.LossReason(ctx, reason, false)
		if err == domain.ErrLossReasonNotFound || (err == nil && lr.Archived) {
			v.Add("reason_id", "no such loss reason (or it is archived)")
			return "", nil, "", v.Err()
		}
		if err != nil {
			return "", nil, "", err
		}
		t, err := d.Close(pl, domain.KindLost, stage, p.UserID, now)
		if err != nil {
			return "", nil, "", err
		}
		d.LossReasonID, d.LossComment = reason, comment
		return TypeDealLost, &t, lr.Name, nil
	})
}

// ReopenDeal takes a won or lost deal back to an open stage.
func (s *Service) ReopenDeal(ctx context.Context, id uuid.UUID, ifMatch int64, stage uuid.UUID) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, func(r Repo, p auth.Principal, d *domain.Deal, pl *domain.Pipeline, now time.Time) (string, *domain.Transition, string, error) {
		moves, err := r.Moves(ctx, d.ID)
		if err != nil {
			return "", nil, "", err
		}
		t, err := d.Reopen(pl, stage, moves, p.UserID, now)
		return TypeDealReopened, &t, "", err
	})
}

// DeleteDeal deletes a deal and its history.
func (s *Service) DeleteDeal(ctx context.Context, id uuid.UUID, ifMatch int64) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	return s.store.Tx(ctx, p.TenantID, func(r Repo) error {
		d, err := readDeal(ctx, r, p, id, true)
		if err != nil {
			return err
		}
		if err := checkVersion(ifMatch, d.Version); err != nil {
			return err
		}
		rates, err := rateMap(ctx, r)
		if err != nil {
			return err
		}
		if err := r.DeleteDeal(ctx, id); err != nil {
			return err
		}
		ev, err := dealEvent(TypeDealDeleted, d, 0, base, rates, p.UserID, nil, "")
		if err != nil {
			return err
		}
		return r.Publish(ctx, ev)
	})
}

// ListDeals pages through the deals the caller may see.
func (s *Service) ListDeals(ctx context.Context, q DealQuery) ([]*domain.Deal, *uuid.UUID, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, nil, err
	}
	q.Viewer = viewerOf(p)
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	want := q.Limit
	q.Limit++
	var out []*domain.Deal
	err = s.store.Tx(ctx, p.TenantID, func(r Repo) error {
		out, err = r.ListDeals(ctx, q)
		return err
	})
	if err != nil || len(out) <= want {
		return out, nil, err
	}
	next := out[want-1].ID
	return out[:want], &next, nil
}

// sortedStages lists a pipeline's stage ids in order.
func sortedStages(pl *domain.Pipeline) []uuid.UUID {
	ids := make([]uuid.UUID, len(pl.Stages))
	for i, st := range pl.Stages {
		ids[i] = st.ID
	}
	return slices.Clip(ids)
}
