package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/customfield"
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
	Pipeline(ctx context.Context, id uuid.UUID, lock Lock) (*domain.Pipeline, error)
	InsertPipeline(ctx context.Context, p *domain.Pipeline) error
	// SavePipeline stores p's name, version and stages (inserting new
	// stages, updating the others, deleting those it no longer has).
	SavePipeline(ctx context.Context, p *domain.Pipeline) error
	DeletePipeline(ctx context.Context, id uuid.UUID) error
	PipelineHasDeals(ctx context.Context, id uuid.UUID) (bool, error)
	StageHasDeals(ctx context.Context, stage uuid.UUID) (bool, error)
	// StageDealsMissing lists which of fields at least one deal of stage lacks.
	StageDealsMissing(ctx context.Context, stage uuid.UUID, fields []string) ([]string, error)
	// MoveStageDeals moves every deal of stage from into to (a stage of the
	// same kind), recording each move; it returns the deals moved.
	MoveStageDeals(ctx context.Context, from uuid.UUID, to domain.Stage, actor string, now time.Time) ([]MovedDeal, error)

	Deal(ctx context.Context, id uuid.UUID, lock bool) (*domain.Deal, error)
	// DealState reads, in one round trip, a deal (locked), its pipeline,
	// its moves and the tenant's rates: all a change of the deal needs.
	DealState(ctx context.Context, id uuid.UUID) (DealState, error)
	// SaveDeal stores a changed deal, its move (if any) and its events in
	// one round trip.
	SaveDeal(ctx context.Context, d *domain.Deal, move *domain.Move, evs ...events.Event) error
	InsertDeal(ctx context.Context, d *domain.Deal, first domain.Move) error
	// UpdateDeal stores d, whose version the caller has already raised.
	UpdateDeal(ctx context.Context, d *domain.Deal) error
	DeleteDeal(ctx context.Context, id uuid.UUID) error
	InsertMove(ctx context.Context, m domain.Move) error
	Moves(ctx context.Context, deal uuid.UUID) ([]domain.Move, error)
	ListDeals(ctx context.Context, q DealQuery) ([]*domain.Deal, error)
	// StageTotals adds up the deals v may see per stage and currency, from
	// the sums kept per stage, owner, team and currency.
	StageTotals(ctx context.Context, pipeline uuid.UUID, stages []uuid.UUID, v Viewer) ([]StageTotal, error)
	// FirstDeals returns, per stage, its newest arrivals that v may see.
	FirstDeals(ctx context.Context, stages []uuid.UUID, perStage int, v Viewer) (map[uuid.UUID][]*domain.Deal, error)

	LossReasons(ctx context.Context) ([]*domain.LossReason, error)
	LossReason(ctx context.Context, id uuid.UUID, lock bool) (*domain.LossReason, error)
	InsertLossReason(ctx context.Context, r *domain.LossReason) error
	UpdateLossReason(ctx context.Context, r *domain.LossReason) error

	Rates(ctx context.Context) ([]CurrencyRate, error)
	SetRate(ctx context.Context, r CurrencyRate) error

	// The projection of the contacts service's records (see projection.go).
	Contact(ctx context.Context, id uuid.UUID) (Party, bool, error)
	// References reads, in one round trip, the contacts and companies of
	// those named that the projection holds, and the contacts they were
	// merged into.
	References(ctx context.Context, contacts, companies []uuid.UUID) (Held, error)
	// UpsertContacts and UpsertCompanies store records newer than those
	// held; UpdateKnown* change only records the projection holds.
	UpsertContacts(ctx context.Context, ps ...Party) error
	UpsertCompanies(ctx context.Context, ps ...Party) error
	UpdateKnownContacts(ctx context.Context, p Party) error
	UpdateKnownCompanies(ctx context.Context, p Party) error
	// RestoreContacts undoes MarkContacts (an unmerge).
	RestoreContacts(ctx context.Context, ids []uuid.UUID) error
	// MarkContacts marks contacts deleted (merged into mergedInto, if not Nil).
	MarkContacts(ctx context.Context, ids []uuid.UUID, mergedInto uuid.UUID) error
	MarkCompanyDeleted(ctx context.Context, ids ...uuid.UUID) error
	// EraseContact forgets what sales holds about a person.
	EraseContact(ctx context.Context, ids ...uuid.UUID) error
	// RelinkDeals points the deals of contacts from at to, remembering
	// where each came from; UnlinkDeals takes the deals of restored contacts
	// back from target. Both return the deals changed.
	RelinkDeals(ctx context.Context, from []uuid.UUID, to uuid.UUID, at time.Time) ([]uuid.UUID, error)
	UnlinkDeals(ctx context.Context, target uuid.UUID, restored []uuid.UUID, at time.Time) ([]uuid.UUID, error)

	// LeadSources are the tenant's lead sources (known false: never heard
	// of); SetLeadSources replaces them.
	LeadSources(ctx context.Context) (sources []string, known bool, err error)
	SetLeadSources(ctx context.Context, sources []string) error
	// DealFields are the tenant's custom fields of deals; UpsertField keeps
	// a definition newer than the one held; DeleteField forgets one and
	// drops its values from deals (unless another field has its key).
	DealFields(ctx context.Context) ([]customfield.Def, error)
	UpsertField(ctx context.Context, f Field) error
	DeleteField(ctx context.Context, id uuid.UUID) error

	// Publish appends events to the outbox, in the unit's transaction.
	Publish(ctx context.Context, evs ...events.Event) error
}

// Held is what the projection holds of records a write names, by id.
type Held struct {
	Contacts, Companies map[uuid.UUID]Party
}

// MovedDeal is a deal a deleted stage handed over, after the move.
type MovedDeal struct {
	Deal         *domain.Deal
	Move         domain.Move
	WasEnteredAt time.Time // when it entered the deleted stage
}

// DealState is a deal with what a change of it reads.
type DealState struct {
	Deal     *domain.Deal
	Pipeline *domain.Pipeline
	Moves    []domain.Move
	Rates    []CurrencyRate
}

// Lock says how a read locks the rows it reads. Deal writes take their
// pipeline FOR SHARE and pipeline changes FOR UPDATE, so a stage cannot
// change kind, or be deleted with its deals moved, while a deal enters it.
type Lock int

// Locks.
const (
	NoLock Lock = iota
	ForShare
	ForUpdate
)

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

// Viewer is who reads, for visibility (DESIGN.md §5, pkg/access): admins
// and analysts see every deal, managers and viewers their team's, reps
// their own.
type Viewer = access.Viewer

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

// Contacts is the contacts service's API, asked synchronously when the
// projection does not know a record yet (it was created a moment ago), and
// by the quick deal. The caller's credentials travel in ctx (httpkit.KeepCaller).
type Contacts interface {
	// Contact and Company return the record, or ok false when the caller's
	// tenant has no such record (MergedInto set when it was merged).
	Contact(ctx context.Context, id uuid.UUID) (p Party, ok bool, err error)
	Company(ctx context.Context, id uuid.UUID) (p Party, ok bool, err error)
	// CreateContact creates a contact from body (the contacts API's own
	// JSON); a refusal comes back as the contacts service's problem. With
	// keyed, the request's Idempotency-Key goes along (derived).
	CreateContact(ctx context.Context, body []byte, keyed bool) (Party, error)
	// DeleteContact deletes a contact at version.
	DeleteContact(ctx context.Context, id uuid.UUID, version int64) error
	// DealFields lists the tenant's custom fields of deals.
	DealFields(ctx context.Context) ([]Field, error)
	// LeadSources lists the values of the tenant's lead sources.
	LeadSources(ctx context.Context) ([]string, error)
}

// Field is a custom field definition with its identity.
type Field struct {
	ID      uuid.UUID
	Def     customfield.Def
	Version int64
}
