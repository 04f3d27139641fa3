package transport

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

type stageJSON struct {
	ID             uuid.UUID `json:"id"`
	Name           string    `json:"name"`
	Color          string    `json:"color"`
	Probability    int       `json:"probability"`
	Kind           string    `json:"kind"`
	Position       int       `json:"position"`
	RequiredFields []string  `json:"required_fields"`
}

type pipelineJSON struct {
	ID        uuid.UUID   `json:"id"`
	Name      string      `json:"name"`
	Stages    []stageJSON `json:"stages"`
	Version   int64       `json:"version"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

func stageView(st domain.Stage) stageJSON {
	return stageJSON{ID: st.ID, Name: st.Name, Color: st.Color, Probability: st.Probability, Kind: string(st.Kind),
		Position: st.Position, RequiredFields: st.RequiredFields}
}

func pipelineView(p *domain.Pipeline) pipelineJSON {
	v := pipelineJSON{ID: p.ID(), Name: p.Name(), Stages: make([]stageJSON, 0, len(p.Stages())), Version: p.Version(),
		CreatedAt: p.CreatedAt(), UpdatedAt: p.UpdatedAt()}
	for _, st := range p.Stages() {
		v.Stages = append(v.Stages, stageView(st))
	}
	return v
}

type stageTimeJSON struct {
	StageID uuid.UUID `json:"stage_id"`
	Seconds int64     `json:"seconds"`
}

type dealJSON struct {
	ID                uuid.UUID       `json:"id"`
	Title             string          `json:"title"`
	PipelineID        uuid.UUID       `json:"pipeline_id"`
	StageID           uuid.UUID       `json:"stage_id"`
	Status            string          `json:"status"`
	Amount            *int64          `json:"amount"`
	Currency          string          `json:"currency"`
	ContactID         *uuid.UUID      `json:"contact_id"`
	CompanyID         *uuid.UUID      `json:"company_id"`
	OwnerID           string          `json:"owner_id"`
	Team              string          `json:"team"`
	ExpectedCloseDate *string         `json:"expected_close_date"`
	Source            string          `json:"source"`
	Tags              []string        `json:"tags"`
	Custom            map[string]any  `json:"custom"`
	LossReasonID      *uuid.UUID      `json:"loss_reason_id"`
	LossComment       string          `json:"loss_comment"`
	Probability       *int            `json:"probability,omitempty"`
	StageEnteredAt    time.Time       `json:"stage_entered_at"`
	ClosedAt          *time.Time      `json:"closed_at"`
	StageTimes        []stageTimeJSON `json:"stage_times,omitempty"`
	NextTask          *nextTaskJSON   `json:"next_task"`
	Version           int64           `json:"version"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// nextTaskJSON is a deal's next step: its open task due first.
type nextTaskJSON struct {
	ID      uuid.UUID  `json:"id"`
	Kind    string     `json:"kind"`
	DueAt   *time.Time `json:"due_at"`
	DueDate *string    `json:"due_date"`
	Overdue bool       `json:"overdue"`
}

func nextTaskView(n *domain.NextStep) *nextTaskJSON {
	if n == nil {
		return nil
	}
	v := &nextTaskJSON{ID: n.TaskID, Kind: n.Kind, DueAt: n.DueAt, Overdue: n.Overdue}
	if n.DueDate != "" {
		d := n.DueDate
		v.DueDate = &d
	}
	return v
}

func dealView(d *domain.Deal) dealJSON {
	v := dealJSON{ID: d.ID(), Title: d.Title(), PipelineID: d.PipelineID(), StageID: d.StageID(), Status: string(d.Status()), Amount: d.Amount(),
		Currency: d.Currency(), ContactID: ids.Ptr(d.ContactID()), CompanyID: ids.Ptr(d.CompanyID()), OwnerID: d.OwnerID(), Team: d.Team(), Source: d.Source(),
		Tags: d.Tags(), Custom: d.Custom(), LossReasonID: ids.Ptr(d.LossReasonID()), LossComment: d.LossComment(), StageEnteredAt: d.StageEnteredAt(),
		ClosedAt: d.ClosedAt(), Version: d.Version(), CreatedAt: d.CreatedAt(), UpdatedAt: d.UpdatedAt(), NextTask: nextTaskView(d.NextStep())}
	if d.ExpectedCloseDate() != "" {
		s := d.ExpectedCloseDate()
		v.ExpectedCloseDate = &s
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Custom == nil {
		v.Custom = map[string]any{}
	}
	return v
}

// dealDetail is a single deal: its stage's probability and the time it
// spent in each stage.
func dealDetail(dv *service.DealView) dealJSON {
	v := dealView(dv.Deal)
	p := dv.Probability
	v.Probability = &p
	v.StageTimes = make([]stageTimeJSON, 0, len(dv.StageTimes))
	for _, st := range dv.StageTimes {
		v.StageTimes = append(v.StageTimes, stageTimeJSON{st.StageID, st.Seconds})
	}
	return v
}

type moveJSON struct {
	ID          uuid.UUID  `json:"id"`
	FromStageID *uuid.UUID `json:"from_stage_id"`
	ToStageID   uuid.UUID  `json:"to_stage_id"`
	ActorID     string     `json:"actor_id"`
	MovedAt     time.Time  `json:"moved_at"`
}

func moveView(m domain.Move) moveJSON {
	return moveJSON{ID: m.ID, FromStageID: ids.Ptr(m.FromStageID), ToStageID: m.ToStageID, ActorID: m.ActorID, MovedAt: m.At}
}

type columnJSON struct {
	stageJSON
	Count          int64      `json:"count"`
	TotalAmount    int64      `json:"total_amount"`
	WeightedAmount int64      `json:"weighted_amount"`
	Deals          []dealJSON `json:"deals"`
}

type boardJSON struct {
	PipelineID   uuid.UUID    `json:"pipeline_id"`
	Name         string       `json:"name"`
	Version      int64        `json:"version"`
	BaseCurrency string       `json:"base_currency"`
	Stages       []columnJSON `json:"stages"`
	// Unconverted names currencies left out of the sums for want of a rate.
	Unconverted []string `json:"unconverted_currencies"`
}

func boardView(b *service.Board) boardJSON {
	v := boardJSON{PipelineID: b.Pipeline.ID(), Name: b.Pipeline.Name(), Version: b.Pipeline.Version(), BaseCurrency: b.BaseCurrency,
		Stages: make([]columnJSON, 0, len(b.Columns)), Unconverted: b.Unconverted}
	if v.Unconverted == nil {
		v.Unconverted = []string{}
	}
	for _, c := range b.Columns {
		col := columnJSON{stageJSON: stageView(c.Stage), Count: c.Count, TotalAmount: c.TotalAmount, WeightedAmount: c.WeightedAmount,
			Deals: make([]dealJSON, 0, len(c.Deals))}
		for _, d := range c.Deals {
			col.Deals = append(col.Deals, dealView(d))
		}
		v.Stages = append(v.Stages, col)
	}
	return v
}

type reasonJSON struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Position  int       `json:"position"`
	Archived  bool      `json:"archived"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func reasonView(r *domain.LossReason) reasonJSON {
	return reasonJSON{ID: r.ID(), Name: r.Name(), Position: r.Position(), Archived: r.Archived(), Version: r.Version(), CreatedAt: r.CreatedAt(), UpdatedAt: r.UpdatedAt()}
}

type rateJSON struct {
	Currency     string    `json:"currency"`
	Rate         string    `json:"rate"`
	BaseCurrency string    `json:"base_currency"`
	UpdatedAt    time.Time `json:"updated_at"`
	UpdatedBy    string    `json:"updated_by"`
}

func rateView(base string, r service.CurrencyRate) rateJSON {
	return rateJSON{Currency: r.Currency, Rate: trimRate(r.Rate.FloatString(domain.RateDigits)), BaseCurrency: base, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy}
}

// trimRate drops a decimal's trailing zeros ("90.500000000000" → "90.5").
func trimRate(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' && strings.Contains(s, ".") {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
