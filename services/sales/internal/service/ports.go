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

// The repositories, one per group of use cases. Each write owns its
// transaction: it scopes it to the tenant, reads and locks what the write
// needs, runs the callback, and stores what the callback returns with the
// callback's events in the outbox, committing or rolling back in one
// place. A read takes a transaction of its own.

// Stores are the repositories the use cases work on.
type Stores struct {
	Deals       DealRepository
	Pipelines   PipelineRepository
	Boards      BoardReader
	LossReasons LossReasonRepository
	Rates       RateRepository
	Setup       SetupRepository
	Parties     PartyRepository
}

// DealRepository stores deals with their moves.
type DealRepository interface {
	// CreateDeal lets fn build a deal from what it reads in the write's
	// transaction and inserts it with its first move and events.
	CreateDeal(ctx context.Context, tenant uuid.UUID, fn func(DealTx) (NewDeal, error)) error
	// UpdateDeal locks the deal (and its pipeline, for share), lets fn
	// change it, and stores it with fn's move and events.
	UpdateDeal(ctx context.Context, tenant, id uuid.UUID, fn func(DealTx, DealState) (DealChange, error)) error
	// DeleteDeal locks the deal, lets fn approve it and name its events,
	// and deletes it with its moves.
	DeleteDeal(ctx context.Context, tenant, id uuid.UUID, fn func(DealTx, *domain.Deal) ([]events.Event, error)) error
	// Deal reads a deal with its pipeline and moves, in one round trip.
	Deal(ctx context.Context, tenant, id uuid.UUID) (DealState, error)
	ListDeals(ctx context.Context, tenant uuid.UUID, q DealQuery) ([]*domain.Deal, error)
}

// NewDeal is a deal to insert, with its first move and its events.
type NewDeal struct {
	Deal   *domain.Deal
	First  domain.Move
	Events []events.Event
}

// DealChange is a changed deal, the move it made (nil for none) and its events.
type DealChange struct {
	Deal   *domain.Deal
	Move   *domain.Move
	Events []events.Event
}

// DealTx is what a deal write reads in its transaction, and where the
// projection learns the references the contacts service just vouched for.
// "Lock" reads take the row for update or share, so concurrent changes of
// one record queue.
type DealTx interface {
	Pipelines(ctx context.Context) ([]*domain.Pipeline, error)
	Pipeline(ctx context.Context, id uuid.UUID, lock Lock) (*domain.Pipeline, error)
	DealFields(ctx context.Context) ([]customfield.Def, error)
	Rates(ctx context.Context) ([]CurrencyRate, error)
	LossReason(ctx context.Context, id uuid.UUID, lock bool) (*domain.LossReason, error)
	References
}

// References reads the contacts and companies a write names from the
// projection, and keeps those the contacts service confirmed.
type References interface {
	// References reads, in one round trip, the contacts and companies of
	// those named that the projection holds, and the contacts they were
	// merged into.
	References(ctx context.Context, contacts, companies []uuid.UUID) (Held, error)
	// UpsertContacts and UpsertCompanies store records newer than those held.
	UpsertContacts(ctx context.Context, ps ...Party) error
	UpsertCompanies(ctx context.Context, ps ...Party) error
}

// PipelineRepository stores pipelines with their stages.
type PipelineRepository interface {
	Pipelines(ctx context.Context, tenant uuid.UUID) ([]*domain.Pipeline, error)
	Pipeline(ctx context.Context, tenant, id uuid.UUID) (*domain.Pipeline, error)
	// CreatePipeline inserts p with the events evs names.
	CreatePipeline(ctx context.Context, p *domain.Pipeline, evs func(*domain.Pipeline) ([]events.Event, error)) error
	// UpdatePipeline locks the pipeline, lets fn change it (and move the
	// deals of a stage it removes), and stores its name, version and
	// stages with fn's events.
	UpdatePipeline(ctx context.Context, tenant, id uuid.UUID, fn func(StageDeals, *domain.Pipeline) ([]events.Event, error)) (*domain.Pipeline, error)
	// DeletePipeline locks the pipeline, lets fn approve it and name its
	// events, and deletes it with its stages.
	DeletePipeline(ctx context.Context, tenant, id uuid.UUID, fn func(StageDeals, *domain.Pipeline) ([]events.Event, error)) error
}

// StageDeals is what a pipeline change asks about its deals, in its transaction.
type StageDeals interface {
	PipelineHasDeals(ctx context.Context, id uuid.UUID) (bool, error)
	StageHasDeals(ctx context.Context, stage uuid.UUID) (bool, error)
	// StageDealsMissing lists which of fields at least one deal of stage lacks.
	StageDealsMissing(ctx context.Context, stage uuid.UUID, fields []string) ([]string, error)
	// MoveStageDeals moves every deal of stage from into to (a stage of the
	// same kind), recording each move; it returns the deals moved.
	MoveStageDeals(ctx context.Context, from uuid.UUID, to domain.Stage, actor string, now time.Time) ([]MovedDeal, error)
	Rates(ctx context.Context) ([]CurrencyRate, error)
}

// BoardReader reads a board's numbers.
type BoardReader interface {
	// Board reads, in one transaction, the pipeline, the sums of its
	// stages' deals that v may see (kept per stage, owner, team and
	// currency), the tenant's rates and (perStage > 0) each stage's newest
	// arrivals that v may see.
	Board(ctx context.Context, tenant, pipeline uuid.UUID, perStage int, v Viewer) (BoardData, error)
}

// BoardData is what a board is computed from.
type BoardData struct {
	Pipeline *domain.Pipeline
	Totals   []StageTotal
	Rates    []CurrencyRate
	First    map[uuid.UUID][]*domain.Deal
}

// LossReasonRepository stores loss reasons.
type LossReasonRepository interface {
	LossReasons(ctx context.Context, tenant uuid.UUID) ([]*domain.LossReason, error)
	LossReason(ctx context.Context, tenant, id uuid.UUID) (*domain.LossReason, error)
	// AddLossReason locks the tenant's loss reasons, lets fn make one from
	// how many there are, and inserts it.
	AddLossReason(ctx context.Context, tenant uuid.UUID, fn func(count int) (*domain.LossReason, error)) (*domain.LossReason, error)
	// UpdateLossReason locks the reason, lets fn change it and stores it.
	UpdateLossReason(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.LossReason) error) (*domain.LossReason, error)
}

// RateRepository stores the tenant's currency rates.
type RateRepository interface {
	Rates(ctx context.Context, tenant uuid.UUID) ([]CurrencyRate, error)
	SetRate(ctx context.Context, tenant uuid.UUID, r CurrencyRate) error
}

// SetupRepository keeps what sales learns of the tenant's setup from the
// contacts service: lead sources and custom fields of deals.
type SetupRepository interface {
	// LeadSources are the tenant's lead sources (known false: never heard
	// of); SetLeadSources replaces them.
	LeadSources(ctx context.Context, tenant uuid.UUID) (sources []string, known bool, err error)
	SetLeadSources(ctx context.Context, tenant uuid.UUID, sources []string) error
	// DealFields are the tenant's custom fields of deals; UpsertFields keeps
	// the definitions newer than those held.
	DealFields(ctx context.Context, tenant uuid.UUID) ([]customfield.Def, error)
	UpsertFields(ctx context.Context, tenant uuid.UUID, fs ...Field) error
}

// PartyRepository is the quick deal's view of the projection.
type PartyRepository interface {
	Contact(ctx context.Context, tenant, id uuid.UUID) (Party, bool, error)
	// ForgetContact marks a contact deleted (one a failed quick deal undid).
	ForgetContact(ctx context.Context, tenant, id uuid.UUID) error
}

// Projection is the copy of the contacts service's records sales keeps,
// changed by the contacts events in the consumer's transaction (the
// inbox's), together with the deals a merge relinks and their events.
type Projection interface {
	References
	// UpdateKnown* change only records the projection holds.
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
	// UpsertField keeps a definition newer than the one held; DeleteField
	// forgets one and drops its values from deals (unless another field
	// has its key).
	UpsertField(ctx context.Context, f Field) error
	DeleteField(ctx context.Context, id uuid.UUID) error
	SetLeadSources(ctx context.Context, sources []string) error
	// Deal, Pipeline and Rates read what a relinked deal's event says.
	Deal(ctx context.Context, id uuid.UUID, lock bool) (*domain.Deal, error)
	Pipeline(ctx context.Context, id uuid.UUID, lock Lock) (*domain.Pipeline, error)
	Rates(ctx context.Context) ([]CurrencyRate, error)
	// Publish appends events to the outbox, in the consumer's transaction.
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

// DealState is a deal with what a change of it reads (Rates only for a
// write).
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
	// NextStep keeps the open deals without an open task (NextStepNone)
	// or whose next step is late (NextStepOverdue).
	NextStep string
	Viewer   Viewer
}

// The next_step filters of the deals list.
const (
	NextStepNone    = "none"
	NextStepOverdue = "overdue"
)

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
