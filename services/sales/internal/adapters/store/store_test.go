package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/sales/internal/adapters/store"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
	"github.com/rapportcrm/rapport/services/sales/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The repositories' contract, on the real database: a write stores what
// its callback returns together with the callback's events, or nothing at
// all when the callback refuses, and another tenant's record is not found.

type fixture struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	st      *store.Store
	tenant  uuid.UUID
	pl      *domain.Pipeline
	t       *testing.T
	eventOf func(subject string) events.Event
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), migrations.Set()); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{ctx: ctx, pool: pool, st: store.NewStore(pool), tenant: uuid.New(), t: t}
	f.eventOf = func(subject string) events.Event {
		e, err := events.New(service.Topic, service.Source, service.TypeDealUpdated, f.tenant, subject, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if f.pl, err = domain.NewPipeline(f.tenant, "Sales", nil, "en", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.st.CreatePipeline(ctx, f.pl, func(p *domain.Pipeline) ([]events.Event, error) {
		return []events.Event{f.eventOf(p.ID().String())}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// outbox counts the tenant's events waiting in the outbox.
func (f *fixture) outbox() int {
	f.t.Helper()
	var n int
	if err := postgres.InTenant(f.ctx, f.pool, f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(f.ctx, `select count(*) from outbox where tenant_id = $1`, f.tenant).Scan(&n)
	}); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) newDeal(title string) service.NewDeal {
	f.t.Helper()
	d, err := domain.NewDeal(f.tenant, domain.DealPatch{Title: &title}, f.pl, nil, "RUB", "en", nil, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		f.t.Fatal(err)
	}
	first := domain.Move{ID: uuid.New(), DealID: d.ID(), ToStageID: d.StageID(), ActorID: "u1", At: d.CreatedAt()}
	return service.NewDeal{Deal: d, First: first, Events: []events.Event{f.eventOf(d.ID().String())}}
}

func TestDealWritesStoreTheirEventsOrNothing(t *testing.T) {
	f := setup(t)
	if n := f.outbox(); n != 1 {
		t.Fatalf("outbox after the pipeline: %d, want its event", n)
	}
	refused := errors.New("refused")
	if err := f.st.CreateDeal(f.ctx, f.tenant, func(service.DealTx) (service.NewDeal, error) {
		f.newDeal("Never")
		return service.NewDeal{}, refused
	}); !errors.Is(err, refused) {
		t.Fatalf("a refused create: %v", err)
	}
	var made service.NewDeal
	if err := f.st.CreateDeal(f.ctx, f.tenant, func(tx service.DealTx) (service.NewDeal, error) {
		if _, err := tx.Pipeline(f.ctx, f.pl.ID(), service.ForShare); err != nil {
			return service.NewDeal{}, err
		}
		made = f.newDeal("Fleet")
		return made, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := f.outbox(); n != 2 {
		t.Fatalf("outbox after a refused and a stored create: %d, want 2", n)
	}
	id := made.Deal.ID()
	st, err := f.st.Deal(f.ctx, f.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deal.Title() != "Fleet" || len(st.Moves) != 1 || st.Pipeline.ID() != f.pl.ID() || len(st.Pipeline.Stages()) != len(f.pl.Stages()) {
		t.Fatalf("read back: %q, %d moves, pipeline %v", st.Deal.Title(), len(st.Moves), st.Pipeline.ID())
	}

	// An update the callback refuses leaves the deal and the outbox as they were.
	if err := f.st.UpdateDeal(f.ctx, f.tenant, id, func(_ service.DealTx, s service.DealState) (service.DealChange, error) {
		if err := s.Deal.Apply(s.Pipeline, domain.DealPatch{Title: ptr("Changed")}, nil, "en"); err != nil {
			return service.DealChange{}, err
		}
		return service.DealChange{}, refused
	}); !errors.Is(err, refused) {
		t.Fatalf("a refused update: %v", err)
	}
	if st, _ := f.st.Deal(f.ctx, f.tenant, id); st.Deal.Title() != "Fleet" || st.Deal.Version() != 1 || f.outbox() != 2 {
		t.Fatalf("after a refused update: %q v%d, outbox %d", st.Deal.Title(), st.Deal.Version(), f.outbox())
	}

	// A move stores the deal, the move and the event together.
	next := f.pl.Stages()[1].ID
	if err := f.st.UpdateDeal(f.ctx, f.tenant, id, func(_ service.DealTx, s service.DealState) (service.DealChange, error) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		tr, err := s.Deal.MoveTo(s.Pipeline, next, "u1", now)
		if err != nil {
			return service.DealChange{}, err
		}
		s.Deal.Advance(now)
		return service.DealChange{Deal: s.Deal, Move: &tr.Move, Events: []events.Event{f.eventOf(id.String())}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err = f.st.Deal(f.ctx, f.tenant, id)
	if err != nil || st.Deal.StageID() != next || st.Deal.Version() != 2 || len(st.Moves) != 2 || f.outbox() != 3 {
		t.Fatalf("after a move: %v stage %v v%d, %d moves, outbox %d", err, st.Deal.StageID(), st.Deal.Version(), len(st.Moves), f.outbox())
	}

	// Another tenant's deal is not there, for reads and writes alike.
	other := uuid.New()
	if _, err := f.st.Deal(f.ctx, other, id); !errors.Is(err, domain.ErrDealNotFound) {
		t.Errorf("another tenant read the deal: %v", err)
	}
	if err := f.st.DeleteDeal(f.ctx, other, id, func(service.DealTx, *domain.Deal) ([]events.Event, error) { return nil, nil }); !errors.Is(err, domain.ErrDealNotFound) {
		t.Errorf("another tenant deleted the deal: %v", err)
	}

	// A delete the callback refuses keeps the deal; an approved one takes its moves along.
	if err := f.st.DeleteDeal(f.ctx, f.tenant, id, func(service.DealTx, *domain.Deal) ([]events.Event, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("a refused delete: %v", err)
	}
	if err := f.st.DeleteDeal(f.ctx, f.tenant, id, func(_ service.DealTx, d *domain.Deal) ([]events.Event, error) {
		return []events.Event{f.eventOf(d.ID().String())}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Deal(f.ctx, f.tenant, id); !errors.Is(err, domain.ErrDealNotFound) || f.outbox() != 4 {
		t.Fatalf("after the delete: %v, outbox %d", err, f.outbox())
	}
	var moves int
	if err := postgres.InTenant(f.ctx, f.pool, f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(f.ctx, `select count(*) from deal_moves where tenant_id = $1 and deal_id = $2`, f.tenant, id).Scan(&moves)
	}); err != nil || moves != 0 {
		t.Fatalf("moves left after the delete: %d (%v)", moves, err)
	}
}

func TestAPipelineChangeStoresItsStagesAndEventsOrNothing(t *testing.T) {
	f := setup(t)
	refused := errors.New("refused")
	if _, err := f.st.UpdatePipeline(f.ctx, f.tenant, f.pl.ID(), func(_ service.StageDeals, p *domain.Pipeline) ([]events.Event, error) {
		if err := p.Rename("Renamed"); err != nil {
			return nil, err
		}
		return nil, refused
	}); !errors.Is(err, refused) {
		t.Fatalf("a refused change: %v", err)
	}
	if p, err := f.st.Pipeline(f.ctx, f.tenant, f.pl.ID()); err != nil || p.Name() != "Sales" || f.outbox() != 1 {
		t.Fatalf("after a refused change: %v %q, outbox %d", err, p.Name(), f.outbox())
	}
	first := f.pl.Stages()[0].ID
	p, err := f.st.UpdatePipeline(f.ctx, f.tenant, f.pl.ID(), func(r service.StageDeals, p *domain.Pipeline) ([]events.Event, error) {
		if has, err := r.StageHasDeals(f.ctx, first); err != nil || has {
			t.Fatalf("an empty stage has deals: %v %v", has, err)
		}
		if err := p.RemoveStage(first, uuid.Nil); err != nil {
			return nil, err
		}
		p.Advance(time.Now())
		return []events.Event{f.eventOf(p.ID().String())}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read, err := f.st.Pipeline(f.ctx, f.tenant, f.pl.ID())
	if err != nil || len(read.Stages()) != len(p.Stages()) || read.Stage(first) != nil || read.Version() != 2 || f.outbox() != 2 {
		t.Fatalf("after removing a stage: %v, %d stages (want %d), v%d, outbox %d", err, len(read.Stages()), len(p.Stages()), read.Version(), f.outbox())
	}
	if _, err := f.st.Pipeline(f.ctx, uuid.New(), f.pl.ID()); !errors.Is(err, domain.ErrPipelineNotFound) {
		t.Errorf("another tenant read the pipeline: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
