package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// BoardColumn is one stage of a board: how many deals it holds, their sum
// and weighted sum in minor units of the base currency, and its first deals.
type BoardColumn struct {
	Stage          domain.Stage
	Count          int64
	TotalAmount    int64
	WeightedAmount int64
	Deals          []*domain.Deal
}

// Board is a pipeline as a kanban view needs it.
type Board struct {
	Pipeline     *domain.Pipeline
	BaseCurrency string
	Columns      []BoardColumn
	// Unconverted lists currencies whose amounts could not be added up (no
	// rate any more, or a sum past 64 bits); they are left out of the sums.
	Unconverted []string
}

// Board adds up a pipeline's stages and lists each one's newest arrivals.
func (s *Service) Board(ctx context.Context, pipeline uuid.UUID, perStage int) (*Board, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if perStage < 0 || perStage > MaxBoardDeals {
		var v apperr.Invalid
		v.Add("deals_per_stage", "must be between 0 and 100")
		return nil, v.Err()
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	b := &Board{BaseCurrency: base}
	viewer := p.Viewer()
	data, err := s.db.Boards.Board(ctx, p.TenantID, pipeline, perStage, viewer)
	if err != nil {
		return nil, err
	}
	pl, totals, rates, first := data.Pipeline, data.Totals, rateMapOf(data.Rates), data.First
	b.Pipeline = pl
	at := map[uuid.UUID]int{}
	for i, st := range pl.Stages() {
		at[st.ID] = i
		deals := first[st.ID]
		if deals == nil {
			deals = []*domain.Deal{}
		}
		b.Columns = append(b.Columns, BoardColumn{Stage: st, Deals: deals})
	}
	missing := map[string]bool{}
	for _, t := range totals {
		i, ok := at[t.StageID]
		if !ok {
			continue
		}
		c := &b.Columns[i]
		c.Count += t.Deals
		rate, ok := rates[t.Currency]
		var v int64
		if ok || t.Currency == base {
			v, ok = domain.ToBase(t.Amount, t.Currency, base, rate)
		}
		if sum := c.TotalAmount + v; !ok || (v > 0 && sum < c.TotalAmount) {
			// No rate, or a sum past 64 bits: left out, and said so.
			if t.Amount != 0 && !missing[t.Currency] {
				missing[t.Currency] = true
				b.Unconverted = append(b.Unconverted, t.Currency)
			}
			continue
		}
		c.TotalAmount += v
	}
	for i := range b.Columns {
		b.Columns[i].WeightedAmount = domain.Weighted(b.Columns[i].TotalAmount, b.Columns[i].Stage.Probability)
	}
	return b, nil
}
