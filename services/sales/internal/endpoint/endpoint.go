// Package endpoint adapts the sales service to go-kit endpoints. Every
// endpoint answers a Response of its use case's result type, which carries
// a business error (endpoint.Failer) for the transport to render.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// Response is a use case's result of type T or its business error
// (httpkit.Response, which every service's endpoints answer).
type Response[T any] = httpkit.Response[T]

// Done is the answer of a use case that returns nothing (a deletion).
type Done = httpkit.Done

// Request types, decoded by the transport. IfMatch is absent when not given.
type (
	// ID names the record a request is about (httpkit.Ref).
	ID             = httpkit.Ref
	CreatePipeline struct {
		Name   string
		Stages []domain.StageSpec
	}
	RenamePipeline struct {
		ID
		Name string
	}
	AddStage struct {
		ID
		Spec     domain.StageSpec
		Position *int
	}
	ChangeStage struct {
		ID
		StageID uuid.UUID
		Spec    domain.StageSpec
	}
	ReorderStages struct {
		ID
		StageIDs []uuid.UUID
	}
	DeleteStage struct {
		ID
		StageID, MoveTo uuid.UUID
	}
	// CreateDeal: Contact is an inline contact (the contacts API's JSON) for a quick deal.
	CreateDeal struct {
		Deal    service.DealInput
		Contact []byte
	}
	UpdateDeal struct {
		ID
		Deal service.DealInput
	}
	// ToStage is a move, win or reopen: StageID may be uuid.Nil except for a move.
	ToStage struct {
		ID
		StageID uuid.UUID
	}
	Lose struct {
		ID
		StageID, ReasonID uuid.UUID
		Comment           string
	}
	ListDeals struct{ Query service.DealQuery }
	Board     struct {
		PipelineID uuid.UUID
		PerStage   int
	}
	LossReasons   struct{ Archived bool }
	AddLossReason struct{ Name string }
	ChangeReason  struct {
		ID
		Name     *string
		Archived *bool
	}
	SetRate struct{ Currency, Rate string }
	None    struct{}
)

// Page is a page of deals and the id to continue after.
type Page struct {
	Deals []*domain.Deal
	Next  *uuid.UUID
}

// Rates is the tenant's base currency and its rates.
type Rates struct {
	Base  string
	Rates []service.CurrencyRate
}

// Rate is one rate set, with the base currency.
type Rate struct {
	Base string
	Rate service.CurrencyRate
}

// StageResult is a pipeline after a stage change, and the stage.
type StageResult struct {
	Pipeline *domain.Pipeline
	Stage    domain.Stage
}

// Endpoints are the sales endpoints by use case.
type Endpoints struct {
	ListPipelines, GetPipeline, CreatePipeline, RenamePipeline, DeletePipeline endpoint.Endpoint
	AddStage, ChangeStage, ReorderStages, DeleteStage, Board                   endpoint.Endpoint
	CreateDeal, GetDeal, UpdateDeal, DeleteDeal, ListDeals, DealMoves          endpoint.Endpoint
	MoveDeal, WinDeal, LoseDeal, ReopenDeal                                    endpoint.Endpoint
	LossReasons, GetLossReason, AddLossReason, ChangeLossReason                endpoint.Endpoint
	Rates, SetRate                                                             endpoint.Endpoint
}

// call makes an endpoint of a use case, observed under name: it takes a
// Req and answers a Response[Res].
func call[Req, Res any](o *observe.Observer, name string, fn func(context.Context, Req) (Res, error)) endpoint.Endpoint {
	return o.Middleware(name)(func(ctx context.Context, req any) (any, error) {
		v, err := fn(ctx, req.(Req))
		return Response[Res]{Value: v, Err: err}, nil
	})
}

// done makes the result of a use case that returns nothing.
func done(err error) (struct{}, error) { return struct{}{}, err }

// Make builds the endpoints over s.
func Make(s *service.Service, o *observe.Observer) Endpoints {
	return Endpoints{
		ListPipelines: call(o, "ListPipelines", func(ctx context.Context, _ None) ([]*domain.Pipeline, error) { return s.ListPipelines(ctx) }),
		GetPipeline:   call(o, "GetPipeline", func(ctx context.Context, r ID) (*domain.Pipeline, error) { return s.GetPipeline(ctx, r.ID) }),
		CreatePipeline: call(o, "CreatePipeline", func(ctx context.Context, r CreatePipeline) (*domain.Pipeline, error) {
			return s.CreatePipeline(ctx, r.Name, r.Stages)
		}),
		RenamePipeline: call(o, "RenamePipeline", func(ctx context.Context, r RenamePipeline) (*domain.Pipeline, error) {
			return s.RenamePipeline(ctx, r.ID.ID, r.IfMatch, r.Name)
		}),
		DeletePipeline: call(o, "DeletePipeline", func(ctx context.Context, r ID) (struct{}, error) { return done(s.DeletePipeline(ctx, r.ID, r.IfMatch)) }),
		AddStage: call(o, "AddStage", func(ctx context.Context, r AddStage) (StageResult, error) {
			pl, st, err := s.AddStage(ctx, r.ID.ID, r.IfMatch, r.Spec, r.Position)
			return StageResult{pl, st}, err
		}),
		ChangeStage: call(o, "ChangeStage", func(ctx context.Context, r ChangeStage) (StageResult, error) {
			pl, st, err := s.ChangeStage(ctx, r.ID.ID, r.StageID, r.IfMatch, r.Spec)
			return StageResult{pl, st}, err
		}),
		ReorderStages: call(o, "ReorderStages", func(ctx context.Context, r ReorderStages) (*domain.Pipeline, error) {
			return s.ReorderStages(ctx, r.ID.ID, r.IfMatch, r.StageIDs)
		}),
		DeleteStage: call(o, "DeleteStage", func(ctx context.Context, r DeleteStage) (*domain.Pipeline, error) {
			return s.DeleteStage(ctx, r.ID.ID, r.StageID, r.IfMatch, r.MoveTo)
		}),
		Board: call(o, "Board", func(ctx context.Context, r Board) (*service.Board, error) {
			return s.Board(ctx, r.PipelineID, r.PerStage)
		}),
		CreateDeal: call(o, "CreateDeal", func(ctx context.Context, r CreateDeal) (*service.DealView, error) {
			return s.CreateDeal(ctx, r.Deal, r.Contact)
		}),
		GetDeal: call(o, "GetDeal", func(ctx context.Context, r ID) (*service.DealView, error) { return s.GetDeal(ctx, r.ID) }),
		UpdateDeal: call(o, "UpdateDeal", func(ctx context.Context, r UpdateDeal) (*service.DealView, error) {
			return s.UpdateDeal(ctx, r.ID.ID, r.IfMatch, r.Deal)
		}),
		DeleteDeal: call(o, "DeleteDeal", func(ctx context.Context, r ID) (struct{}, error) { return done(s.DeleteDeal(ctx, r.ID, r.IfMatch)) }),
		ListDeals: call(o, "ListDeals", func(ctx context.Context, r ListDeals) (Page, error) {
			deals, next, err := s.ListDeals(ctx, r.Query)
			return Page{deals, next}, err
		}),
		DealMoves: call(o, "DealMoves", func(ctx context.Context, r ID) ([]domain.Move, error) { return s.DealMoves(ctx, r.ID) }),
		MoveDeal: call(o, "MoveDeal", func(ctx context.Context, r ToStage) (*service.DealView, error) {
			return s.MoveDeal(ctx, r.ID.ID, r.IfMatch, r.StageID)
		}),
		WinDeal: call(o, "WinDeal", func(ctx context.Context, r ToStage) (*service.DealView, error) {
			return s.WinDeal(ctx, r.ID.ID, r.IfMatch, r.StageID)
		}),
		LoseDeal: call(o, "LoseDeal", func(ctx context.Context, r Lose) (*service.DealView, error) {
			return s.LoseDeal(ctx, r.ID.ID, r.IfMatch, r.StageID, r.ReasonID, r.Comment)
		}),
		ReopenDeal: call(o, "ReopenDeal", func(ctx context.Context, r ToStage) (*service.DealView, error) {
			return s.ReopenDeal(ctx, r.ID.ID, r.IfMatch, r.StageID)
		}),
		LossReasons: call(o, "LossReasons", func(ctx context.Context, r LossReasons) ([]*domain.LossReason, error) {
			return s.LossReasons(ctx, r.Archived)
		}),
		GetLossReason: call(o, "GetLossReason", func(ctx context.Context, r ID) (*domain.LossReason, error) { return s.GetLossReason(ctx, r.ID) }),
		AddLossReason: call(o, "AddLossReason", func(ctx context.Context, r AddLossReason) (*domain.LossReason, error) {
			return s.AddLossReason(ctx, r.Name)
		}),
		ChangeLossReason: call(o, "ChangeLossReason", func(ctx context.Context, r ChangeReason) (*domain.LossReason, error) {
			return s.ChangeLossReason(ctx, r.ID.ID, r.IfMatch, r.Name, r.Archived)
		}),
		Rates: call(o, "Rates", func(ctx context.Context, _ None) (Rates, error) {
			base, rates, err := s.Rates(ctx)
			return Rates{base, rates}, err
		}),
		SetRate: call(o, "SetRate", func(ctx context.Context, r SetRate) (Rate, error) {
			base, rate, err := s.SetRate(ctx, r.Currency, r.Rate)
			return Rate{base, rate}, err
		}),
	}
}
