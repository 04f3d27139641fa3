package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// Store is every sales repository over one pool. Each method runs in a
// transaction of its own, scoped to the tenant (postgres.InTenant), and a
// write stores what its callback returns, events included, before it
// commits.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns the store.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Stores is the store as each repository the use cases take.
func (s *Store) Stores() service.Stores {
	return service.Stores{Deals: s, Pipelines: s, Boards: s, LossReasons: s, Rates: s, Setup: s, Parties: s}
}

var (
	_ service.DealRepository       = (*Store)(nil)
	_ service.PipelineRepository   = (*Store)(nil)
	_ service.BoardReader          = (*Store)(nil)
	_ service.LossReasonRepository = (*Store)(nil)
	_ service.RateRepository       = (*Store)(nil)
	_ service.SetupRepository      = (*Store)(nil)
	_ service.PartyRepository      = (*Store)(nil)
	_ service.DealTx               = (*repo)(nil)
	_ service.StageDeals           = (*repo)(nil)
	_ service.Projection           = (*repo)(nil)
)

// in runs fn in a transaction scoped to tenant.
func (s *Store) in(ctx context.Context, tenant uuid.UUID, fn func(r *repo) error) error {
	return postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		return fn(&repo{tx: tx, tenant: tenant})
	})
}

// read runs a read in a transaction of its own and returns its value.
func read[T any](ctx context.Context, s *Store, tenant uuid.UUID, fn func(r *repo) (T, error)) (T, error) {
	var out T
	err := s.in(ctx, tenant, func(r *repo) (err error) {
		out, err = fn(r)
		return err
	})
	return out, err
}

// --- deals ---

// CreateDeal inserts the deal fn builds, its first move and its events in
// one round trip after fn's reads. A callback error rolls everything back.
func (s *Store) CreateDeal(ctx context.Context, tenant uuid.UUID, fn func(service.DealTx) (service.NewDeal, error)) error {
	return s.in(ctx, tenant, func(r *repo) error {
		n, err := fn(r)
		if err != nil {
			return err
		}
		return r.insertDeal(ctx, n.Deal, n.First, n.Events...)
	})
}

// UpdateDeal reads the deal's state in one round trip (the deal locked for
// update, its pipeline for share), and stores fn's change, move and events
// in another.
func (s *Store) UpdateDeal(ctx context.Context, tenant, id uuid.UUID, fn func(service.DealTx, service.DealState) (service.DealChange, error)) error {
	return s.in(ctx, tenant, func(r *repo) error {
		st, err := r.dealState(ctx, id, true)
		if err != nil {
			return err
		}
		c, err := fn(r, st)
		if err != nil {
			return err
		}
		return r.saveDeal(ctx, c.Deal, c.Move, c.Events...)
	})
}

// DeleteDeal locks the deal, and deletes it with its moves and appends
// fn's events in one round trip.
func (s *Store) DeleteDeal(ctx context.Context, tenant, id uuid.UUID, fn func(service.DealTx, *domain.Deal) ([]events.Event, error)) error {
	return s.in(ctx, tenant, func(r *repo) error {
		d, err := r.Deal(ctx, id, true)
		if err != nil {
			return err
		}
		evs, err := fn(r, d)
		if err != nil {
			return err
		}
		return r.deleteDeal(ctx, id, evs...)
	})
}

func (s *Store) Deal(ctx context.Context, tenant, id uuid.UUID) (service.DealState, error) {
	return read(ctx, s, tenant, func(r *repo) (service.DealState, error) { return r.dealState(ctx, id, false) })
}

func (s *Store) ListDeals(ctx context.Context, tenant uuid.UUID, q service.DealQuery) ([]*domain.Deal, error) {
	return read(ctx, s, tenant, func(r *repo) ([]*domain.Deal, error) { return r.ListDeals(ctx, q) })
}

// --- pipelines ---

func (s *Store) Pipelines(ctx context.Context, tenant uuid.UUID) ([]*domain.Pipeline, error) {
	return read(ctx, s, tenant, func(r *repo) ([]*domain.Pipeline, error) { return r.Pipelines(ctx) })
}

func (s *Store) Pipeline(ctx context.Context, tenant, id uuid.UUID) (*domain.Pipeline, error) {
	return read(ctx, s, tenant, func(r *repo) (*domain.Pipeline, error) { return r.Pipeline(ctx, id, service.NoLock) })
}

func (s *Store) CreatePipeline(ctx context.Context, p *domain.Pipeline, evs func(*domain.Pipeline) ([]events.Event, error)) error {
	return s.in(ctx, p.TenantID(), func(r *repo) error {
		list, err := evs(p)
		if err != nil {
			return err
		}
		if err := r.InsertPipeline(ctx, p); err != nil {
			return err
		}
		return events.Append(ctx, r.tx, list...)
	})
}

// UpdatePipeline locks the pipeline for update: deal writes hold it for
// share, so a stage cannot change kind, or go with its deals moved, while
// a deal enters it.
func (s *Store) UpdatePipeline(ctx context.Context, tenant, id uuid.UUID, fn func(service.StageDeals, *domain.Pipeline) ([]events.Event, error)) (*domain.Pipeline, error) {
	return read(ctx, s, tenant, func(r *repo) (*domain.Pipeline, error) {
		p, err := r.Pipeline(ctx, id, service.ForUpdate)
		if err != nil {
			return nil, err
		}
		evs, err := fn(r, p)
		if err != nil {
			return nil, err
		}
		if err := r.SavePipeline(ctx, p); err != nil {
			return nil, err
		}
		return p, events.Append(ctx, r.tx, evs...)
	})
}

func (s *Store) DeletePipeline(ctx context.Context, tenant, id uuid.UUID, fn func(service.StageDeals, *domain.Pipeline) ([]events.Event, error)) error {
	return s.in(ctx, tenant, func(r *repo) error {
		p, err := r.Pipeline(ctx, id, service.ForUpdate)
		if err != nil {
			return err
		}
		evs, err := fn(r, p)
		if err != nil {
			return err
		}
		if err := r.DeletePipeline(ctx, id); err != nil {
			return err
		}
		return events.Append(ctx, r.tx, evs...)
	})
}

// --- the board ---

func (s *Store) Board(ctx context.Context, tenant, pipeline uuid.UUID, perStage int, v service.Viewer) (service.BoardData, error) {
	return read(ctx, s, tenant, func(r *repo) (b service.BoardData, err error) {
		if b.Pipeline, err = r.Pipeline(ctx, pipeline, service.NoLock); err != nil {
			return b, err
		}
		stages := make([]uuid.UUID, len(b.Pipeline.Stages()))
		for i, st := range b.Pipeline.Stages() {
			stages[i] = st.ID
		}
		if b.Totals, err = r.StageTotals(ctx, pipeline, stages, v); err != nil {
			return b, err
		}
		if b.Rates, err = r.Rates(ctx); err != nil {
			return b, err
		}
		b.First = map[uuid.UUID][]*domain.Deal{}
		if perStage > 0 {
			b.First, err = r.FirstDeals(ctx, stages, perStage, v)
		}
		return b, err
	})
}

// --- loss reasons and rates ---

func (s *Store) LossReasons(ctx context.Context, tenant uuid.UUID) ([]*domain.LossReason, error) {
	return read(ctx, s, tenant, func(r *repo) ([]*domain.LossReason, error) { return r.LossReasons(ctx) })
}

func (s *Store) LossReason(ctx context.Context, tenant, id uuid.UUID) (*domain.LossReason, error) {
	return read(ctx, s, tenant, func(r *repo) (*domain.LossReason, error) { return r.LossReason(ctx, id, false) })
}

func (s *Store) AddLossReason(ctx context.Context, tenant uuid.UUID, fn func(count int) (*domain.LossReason, error)) (*domain.LossReason, error) {
	return read(ctx, s, tenant, func(r *repo) (*domain.LossReason, error) {
		all, err := r.LossReasons(ctx)
		if err != nil {
			return nil, err
		}
		lr, err := fn(len(all))
		if err != nil {
			return nil, err
		}
		return lr, insertLossReason(ctx, r.tx, tenant, lr)
	})
}

func (s *Store) UpdateLossReason(ctx context.Context, tenant, id uuid.UUID, fn func(*domain.LossReason) error) (*domain.LossReason, error) {
	return read(ctx, s, tenant, func(r *repo) (*domain.LossReason, error) {
		lr, err := r.LossReason(ctx, id, true)
		if err != nil {
			return nil, err
		}
		if err := fn(lr); err != nil {
			return nil, err
		}
		return lr, r.UpdateLossReason(ctx, lr)
	})
}

func (s *Store) Rates(ctx context.Context, tenant uuid.UUID) ([]service.CurrencyRate, error) {
	return read(ctx, s, tenant, func(r *repo) ([]service.CurrencyRate, error) { return r.Rates(ctx) })
}

func (s *Store) SetRate(ctx context.Context, tenant uuid.UUID, cr service.CurrencyRate) error {
	return s.in(ctx, tenant, func(r *repo) error { return r.SetRate(ctx, cr) })
}

// --- what sales learns of the tenant's setup ---

type leadSources struct {
	list  []string
	known bool
}

func (s *Store) LeadSources(ctx context.Context, tenant uuid.UUID) ([]string, bool, error) {
	ls, err := read(ctx, s, tenant, func(r *repo) (ls leadSources, err error) {
		ls.list, ls.known, err = r.LeadSources(ctx)
		return ls, err
	})
	return ls.list, ls.known, err
}

func (s *Store) SetLeadSources(ctx context.Context, tenant uuid.UUID, sources []string) error {
	return s.in(ctx, tenant, func(r *repo) error { return r.SetLeadSources(ctx, sources) })
}

func (s *Store) DealFields(ctx context.Context, tenant uuid.UUID) ([]customfield.Def, error) {
	return read(ctx, s, tenant, func(r *repo) ([]customfield.Def, error) { return r.DealFields(ctx) })
}

func (s *Store) UpsertFields(ctx context.Context, tenant uuid.UUID, fs ...service.Field) error {
	return s.in(ctx, tenant, func(r *repo) error {
		for _, f := range fs {
			if err := r.UpsertField(ctx, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// --- the quick deal's contacts ---

type party struct {
	p  service.Party
	ok bool
}

func (s *Store) Contact(ctx context.Context, tenant, id uuid.UUID) (service.Party, bool, error) {
	p, err := read(ctx, s, tenant, func(r *repo) (p party, err error) {
		p.p, p.ok, err = r.Contact(ctx, id)
		return p, err
	})
	return p.p, p.ok, err
}

func (s *Store) ForgetContact(ctx context.Context, tenant, id uuid.UUID) error {
	return s.in(ctx, tenant, func(r *repo) error { return r.MarkContacts(ctx, []uuid.UUID{id}, uuid.Nil) })
}
