package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// Store runs units of work, each one transaction scoped to a tenant.
type Store interface {
	Tx(ctx context.Context, tenant uuid.UUID, fn func(Repo) error) error
}

// Repo is the data a unit of work reads and writes. "Lock" reads take the
// row for update, so concurrent changes of one record queue.
type Repo interface {
	Pipelines(ctx context.Context) ([]*domain.Pipeline, error)
	Pipeline(ctx context.Context, id uuid.UUID, lock bool) (*domain.Pipeline, error)
	InsertPipeline(ctx context.Context, p *domain.Pipeline) error
	// SavePipeline stores p's name, version and stages (inserting new
	// stages, updating the others, deleting those it no longer has).
	SavePipeline(ctx context.Context, p *domain.Pipeline) error
	DeletePipeline(ctx context.Context, id uuid.UUID) error
	PipelineHasDeals(ctx context.Context, id uuid.UUID) (bool, error)
	StageHasDeals(ctx context.Context, stage uuid.UUID) (bool, error)
	// MoveStageDeals moves every deal of stage from into to, recording each
	// move; it returns how many deals moved.
	MoveStageDeals(ctx context.Context, from uuid.UUID, to domain.Stage, actor string, now time.Time) (int64, error)

	Deal(ctx context.Context, id uuid.UUID, lock bool) (*domain.Deal, error)
	InsertDeal(ctx context.Context, d *domain.Deal, first domain.Move) error
	// UpdateDeal stores d, whose version the caller has already raised.
	UpdateDeal(ctx context.Context, d *domain.Deal) error
	DeleteDeal(ctx context.Context, id uuid.UUID) error
	InsertMove(ctx context.Context, m domain.Move) error
	Moves(ctx context.Context, deal uuid.UUID) ([]domain.Move, error)
	ListDeals(ctx context.Context, q DealQuery) ([]*domain.Deal, error)
	// StageTotals adds up deals per stage and currency: from the kept sums
	// when v sees everything, over v's own deals otherwise.
	StageTotals(ctx context.Context, pipeline uuid.UUID, stages []uuid.UUID, v Viewer) ([]StageTotal, error)
	// FirstDeals returns, per stage, its newest arrivals that v may see.
	FirstDeals(ctx context.Context, stages []uuid.UUID, perStage int, v Viewer) (map[uuid.UUID][]*domain.Deal, error)

	LossReasons(ctx context.Context) ([]*domain.LossReason, error)
	LossReason(ctx context.Context, id uuid.UUID, lock bool) (*domain.LossReason, error)
	InsertLossReason(ctx context.Context, r *domain.LossReason) error
	UpdateLossReason(ctx context.Context, r *domain.LossReason) error

	Rates(ctx context.Context) ([]CurrencyRate, error)
	SetRate(ctx context.Context, r CurrencyRate) error

	// Publish appends events to the outbox, in the unit's transaction.
	Publish(ctx context.Context, evs ...events.Event) error
}

// StageTotal is the count and sum of one stage's deals in one currency.
type StageTotal struct {
	StageID  uuid.UUID
	Currency string
	Deals    int64
	Amount   int64
}

// CurrencyRate is how many units of the base currency one unit of Currency costs.
type CurrencyRate struct {
	Currency  string
	Rate      domain.Rate
	UpdatedAt time.Time
	UpdatedBy string
}

// Viewer is who reads, for visibility (DESIGN.md §5): admins and analysts
// see every deal, managers and viewers their team's, reps their own.
type Viewer struct {
	UserID, Team string
	All          bool
	TeamWide     bool
}

// DealQuery filters and pages the deal list (creation order).
type DealQuery struct {
	Limit      int
	After      uuid.UUID
	PipelineID uuid.UUID
	StageID    uuid.UUID
	OwnerID    string
	ContactID  uuid.UUID
	CompanyID  uuid.UUID
	Tag        string
	Status     domain.Status
	AmountMin  *int64
	AmountMax  *int64
	CloseFrom  string
	CloseTo    string
	Viewer     Viewer
}
