// Package transport serves the sales endpoints over HTTP/JSON with go-kit.
// Errors are rendered by httpkit.EncodeError, the one place kinds map to
// status codes.
package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/endpoint"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// Routes registers the sales API on mux.
func Routes(mux *http.ServeMux, e endpoint.Endpoints) {
	handle := httpkit.NewEndpoints(mux, QueryParams).Handle
	handle("GET /v1/pipelines", e.ListPipelines, none, httpkit.Encode(http.StatusOK, func(ps []*domain.Pipeline) (any, int64) {
		return items(ps, pipelineView), 0
	}))
	handle("POST /v1/pipelines", e.CreatePipeline, decodeCreatePipeline, httpkit.EncodeCreated("/v1/pipelines", encodePipeline, func(p *domain.Pipeline) uuid.UUID { return p.ID() }))
	handle("GET /v1/pipelines/{id}", e.GetPipeline, httpkit.DecodeRef(domain.ErrPipelineNotFound), httpkit.Encode(http.StatusOK, encodePipeline))
	handle("PATCH /v1/pipelines/{id}", e.RenamePipeline, decodeRenamePipeline, httpkit.Encode(http.StatusOK, encodePipeline))
	handle("DELETE /v1/pipelines/{id}", e.DeletePipeline, httpkit.DecodeRef(domain.ErrPipelineNotFound), httpkit.EncodeDone)
	handle("GET /v1/pipelines/{id}/board", e.Board, decodeBoard, httpkit.Encode(http.StatusOK, func(b *service.Board) (any, int64) { return boardView(b), 0 }))
	handle("POST /v1/pipelines/{id}/stages", e.AddStage, decodeAddStage, encodeStageResult(http.StatusCreated))
	handle("PATCH /v1/pipelines/{id}/stages/{sid}", e.ChangeStage, decodeChangeStage, encodeStageResult(http.StatusOK))
	handle("PUT /v1/pipelines/{id}/stages/order", e.ReorderStages, decodeReorder, httpkit.Encode(http.StatusOK, encodePipeline))
	handle("DELETE /v1/pipelines/{id}/stages/{sid}", e.DeleteStage, decodeDeleteStage, httpkit.Encode(http.StatusOK, encodePipeline))

	handle("POST /v1/deals", e.CreateDeal, decodeCreateDeal, httpkit.EncodeCreated("/v1/deals", encodeDeal, func(d *service.DealView) uuid.UUID { return d.ID() }))
	handle("GET /v1/deals", e.ListDeals, decodeListDeals, httpkit.Encode(http.StatusOK, func(p endpoint.Page) (any, int64) {
		page := httpkit.Page[dealJSON]{Items: make([]dealJSON, 0, len(p.Deals))}
		for _, d := range p.Deals {
			page.Items = append(page.Items, dealView(d))
		}
		if p.Next != nil {
			page.NextCursor = httpkit.EncodeCursor(cursor{After: *p.Next})
		}
		return page, 0
	}))
	handle("GET /v1/deals/{id}", e.GetDeal, httpkit.DecodeRef(domain.ErrDealNotFound), httpkit.Encode(http.StatusOK, encodeDeal))
	handle("PATCH /v1/deals/{id}", e.UpdateDeal, decodeUpdateDeal, httpkit.Encode(http.StatusOK, encodeDeal))
	handle("DELETE /v1/deals/{id}", e.DeleteDeal, httpkit.DecodeRef(domain.ErrDealNotFound), httpkit.EncodeDone)
	handle("GET /v1/deals/{id}/moves", e.DealMoves, httpkit.DecodeRef(domain.ErrDealNotFound), httpkit.Encode(http.StatusOK, func(ms []domain.Move) (any, int64) { return items(ms, moveView), 0 }))
	handle("POST /v1/deals/{id}/move", e.MoveDeal, decodeToStage(true), httpkit.Encode(http.StatusOK, encodeDeal))
	handle("POST /v1/deals/{id}/win", e.WinDeal, decodeToStage(false), httpkit.Encode(http.StatusOK, encodeDeal))
	handle("POST /v1/deals/{id}/lose", e.LoseDeal, decodeLose, httpkit.Encode(http.StatusOK, encodeDeal))
	handle("POST /v1/deals/{id}/reopen", e.ReopenDeal, decodeToStage(false), httpkit.Encode(http.StatusOK, encodeDeal))

	handle("GET /v1/loss-reasons", e.LossReasons, decodeLossReasons, httpkit.Encode(http.StatusOK, func(rs []*domain.LossReason) (any, int64) { return items(rs, reasonView), 0 }))
	handle("POST /v1/loss-reasons", e.AddLossReason, decodeAddReason, httpkit.EncodeCreated("/v1/loss-reasons", encodeReason, func(r *domain.LossReason) uuid.UUID { return r.ID() }))
	handle("GET /v1/loss-reasons/{id}", e.GetLossReason, httpkit.DecodeRef(domain.ErrLossReasonNotFound), httpkit.Encode(http.StatusOK, encodeReason))
	handle("PATCH /v1/loss-reasons/{id}", e.ChangeLossReason, decodeChangeReason, httpkit.Encode(http.StatusOK, encodeReason))

	handle("GET /v1/currency-rates", e.Rates, none, httpkit.Encode(http.StatusOK, func(rs endpoint.Rates) (any, int64) {
		body := items(rs.Rates, func(r service.CurrencyRate) rateJSON { return rateView(rs.Base, r) })
		body["base_currency"] = rs.Base
		return body, 0
	}))
	handle("POST /v1/currency-rates", e.SetRate, decodeSetRate, httpkit.Encode(http.StatusOK, func(r endpoint.Rate) (any, int64) {
		return rateView(r.Base, r.Rate), 0
	}))
}

// QueryParams are the query parameters each route takes (OpenAPI lists the
// same); a route not named takes none.
var QueryParams = map[string][]string{
	"GET /v1/pipelines/{id}/board":           {"deals_per_stage"},
	"DELETE /v1/pipelines/{id}/stages/{sid}": {"move_to"},
	"GET /v1/deals": {"limit", "cursor", "pipeline_id", "stage_id", "contact_id", "company_id", "owner_id", "tag", "status",
		"amount_min", "amount_max", "close_from", "close_to", "next_step"},
	"GET /v1/loss-reasons": {"include_archived"},
}

// --- encoders ---

// items is the JSON of a whole list: {"items": [...]}.
func items[T, J any](xs []T, view func(T) J) map[string]any {
	out := make([]J, 0, len(xs))
	for _, x := range xs {
		out = append(out, view(x))
	}
	return map[string]any{"items": out}
}

func encodePipeline(p *domain.Pipeline) (any, int64) { return pipelineView(p), p.Version() }

func encodeDeal(d *service.DealView) (any, int64) { return dealDetail(d), d.Version() }

func encodeReason(r *domain.LossReason) (any, int64) { return reasonView(r), r.Version() }

func encodeStageResult(status int) kithttp.EncodeResponseFunc {
	return httpkit.Encode(status, func(r endpoint.StageResult) (any, int64) {
		return map[string]any{"stage": stageView(r.Stage), "pipeline": pipelineView(r.Pipeline)}, r.Pipeline.Version()
	})
}

// --- decoders ---

type cursor struct {
	After uuid.UUID `json:"a"`
}

func none(context.Context, *http.Request) (any, error) { return endpoint.None{}, nil }

// pathID reads a path id; a malformed one names nothing, so it is a 404.
type stageBody struct {
	Name           *string   `json:"name"`
	Color          *string   `json:"color"`
	Probability    *int      `json:"probability"`
	Kind           *string   `json:"kind"`
	RequiredFields *[]string `json:"required_fields"`
	Position       *int      `json:"position"`
}

func (b stageBody) spec() domain.StageSpec {
	return domain.StageSpec{Name: b.Name, Color: b.Color, Probability: b.Probability, Kind: b.Kind, RequiredFields: b.RequiredFields}
}

func decodeCreatePipeline(_ context.Context, r *http.Request) (any, error) {
	var body struct {
		Name   string       `json:"name"`
		Stages *[]stageBody `json:"stages"`
	}
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	req := endpoint.CreatePipeline{Name: body.Name}
	if body.Stages != nil {
		req.Stages = []domain.StageSpec{}
		for i, s := range *body.Stages {
			if s.Position != nil {
				return nil, invalid("stages/"+strconv.Itoa(i)+"/position", "is given by the stage's place in the list")
			}
			req.Stages = append(req.Stages, s.spec())
		}
	}
	return req, nil
}

func decodeRenamePipeline(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathRef(r, domain.ErrPipelineNotFound)
	if err != nil {
		return nil, err
	}
	var body struct {
		Name *string `json:"name"`
	}
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Name == nil {
		return nil, invalid("name", "is required (the only member a pipeline's PATCH changes; stages have their own endpoints)")
	}
	return endpoint.RenamePipeline{ID: id, Name: *body.Name}, nil
}

func decodeBoard(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathID(r, "id", domain.ErrPipelineNotFound)
	if err != nil {
		return nil, err
	}
	per := service.BoardDeals
	if s := r.URL.Query().Get("deals_per_stage"); s != "" {
		if per, err = strconv.Atoi(s); err != nil {
			return nil, invalid("deals_per_stage", "must be a whole number between 0 and 100")
		}
	}
	return endpoint.Board{PipelineID: id, PerStage: per}, nil
}

func decodeAddStage(_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpkit.PathRefBody[stageBody](r, domain.ErrPipelineNotFound)
	if err != nil {
		return nil, err
	}
	return endpoint.AddStage{ID: id, Spec: body.spec(), Position: body.Position}, nil
}

func decodeChangeStage(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathRef(r, domain.ErrPipelineNotFound)
	if err != nil {
		return nil, err
	}
	sid, err := httpkit.PathID(r, "sid", domain.ErrStageNotFound)
	if err != nil {
		return nil, err
	}
	var body stageBody
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Position != nil {
		return nil, invalid("position", "stages are reordered with PUT /v1/pipelines/{id}/stages/order")
	}
	return endpoint.ChangeStage{ID: id, StageID: sid, Spec: body.spec()}, nil
}

func decodeReorder(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathRef(r, domain.ErrPipelineNotFound)
	if err != nil {
		return nil, err
	}
	var body struct {
		StageIDs []string `json:"stage_ids"`
	}
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	ids := make([]uuid.UUID, len(body.StageIDs))
	for i, s := range body.StageIDs {
		ids[i] = httpkit.OptionalID(&v, "stage_ids/"+strconv.Itoa(i), s)
	}
	return endpoint.ReorderStages{ID: id, StageIDs: ids}, v.Err()
}

func decodeDeleteStage(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathRef(r, domain.ErrPipelineNotFound)
	if err != nil {
		return nil, err
	}
	sid, err := httpkit.PathID(r, "sid", domain.ErrStageNotFound)
	if err != nil {
		return nil, err
	}
	var v apperr.Invalid
	moveTo := httpkit.OptionalID(&v, "move_to", r.URL.Query().Get("move_to"))
	return endpoint.DeleteStage{ID: id, StageID: sid, MoveTo: moveTo}, v.Err()
}

// dealBody is a deal's JSON members; absent ones are left alone, and null
// clears what may be cleared.
type dealBody struct {
	Title             httpkit.Nullable[string]         `json:"title"`
	PipelineID        httpkit.Nullable[string]         `json:"pipeline_id"`
	StageID           httpkit.Nullable[string]         `json:"stage_id"`
	Amount            httpkit.Nullable[int64]          `json:"amount"`
	Currency          httpkit.Nullable[string]         `json:"currency"`
	ContactID         httpkit.Nullable[string]         `json:"contact_id"`
	CompanyID         httpkit.Nullable[string]         `json:"company_id"`
	OwnerID           httpkit.Nullable[string]         `json:"owner_id"`
	Team              httpkit.Nullable[string]         `json:"team"`
	ExpectedCloseDate httpkit.Nullable[string]         `json:"expected_close_date"`
	Source            httpkit.Nullable[string]         `json:"source"`
	Tags              httpkit.Nullable[[]string]       `json:"tags"`
	Custom            httpkit.Nullable[map[string]any] `json:"custom"`
	// Contact is a quick deal's new contact, passed to the contacts API as is.
	Contact json.RawMessage `json:"contact"`
}

func (b dealBody) input() service.DealInput {
	var v apperr.Invalid
	var in service.DealInput
	f := &in.Patch
	notNull := func(field string, n bool) {
		if n {
			v.Add(field, "must not be null")
		}
	}
	notNull("title", b.Title.Null)
	notNull("currency", b.Currency.Null)
	notNull("owner_id", b.OwnerID.Null)
	notNull("pipeline_id", b.PipelineID.Null)
	notNull("stage_id", b.StageID.Null)
	notNull("custom", b.Custom.Null)
	if b.Custom.Set && !b.Custom.Null {
		f.Custom = b.Custom.Value
		if f.Custom == nil {
			f.Custom = map[string]any{}
		}
	}
	f.Title, f.Currency, f.OwnerID, f.Source, f.Team = b.Title.Ptr(), b.Currency.Ptr(), b.OwnerID.Ptr(), b.Source.Ptr(), b.Team.Ptr()
	f.ExpectedCloseDate, f.Tags = b.ExpectedCloseDate.Ptr(), b.Tags.Ptr()
	if b.Amount.Set {
		f.Amount = &domain.AmountChange{Minor: b.Amount.Value, Unknown: b.Amount.Null}
	}
	id := func(field string, n httpkit.Nullable[string]) *uuid.UUID { return httpkit.PatchID(&v, field, n) }
	in.PipelineID, in.StageID = id("pipeline_id", b.PipelineID), id("stage_id", b.StageID)
	f.ContactID, f.CompanyID = id("contact_id", b.ContactID), id("company_id", b.CompanyID)
	// Reported with the service's own checks, all in one problem.
	if e, ok := apperr.As(v.Err()); ok {
		in.Invalid = e.Fields
	}
	return in
}

func decodeCreateDeal(_ context.Context, r *http.Request) (any, error) {
	var body dealBody
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	req := endpoint.CreateDeal{Deal: body.input()}
	if c := bytes.TrimSpace(body.Contact); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		if c[0] != '{' {
			return nil, invalid("contact", "must be an object: the new contact, as POST /v1/contacts takes it")
		}
		req.Contact = c
	}
	return req, nil
}

func decodeUpdateDeal(_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpkit.PathRefBody[dealBody](r, domain.ErrDealNotFound)
	if err != nil {
		return nil, err
	}
	if body.Contact != nil {
		return nil, invalid("contact", "a contact is created inline only with a new deal; link an existing one with contact_id")
	}
	return endpoint.UpdateDeal{ID: id, Deal: body.input()}, nil
}

// decodeToStage reads a move (stage_id required), a win or a reopen
// (stage_id optional, and so is the body).
func decodeToStage(required bool) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		id, err := httpkit.PathRef(r, domain.ErrDealNotFound)
		if err != nil {
			return nil, err
		}
		var body struct {
			StageID string `json:"stage_id"`
		}
		if err := httpkit.DecodeOptionalJSON(r, &body); err != nil {
			return nil, err
		}
		var v apperr.Invalid
		if required && body.StageID == "" {
			v.Add("stage_id", "is required")
		}
		return endpoint.ToStage{ID: id, StageID: httpkit.OptionalID(&v, "stage_id", body.StageID)}, v.Err()
	}
}

func decodeLose(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathRef(r, domain.ErrDealNotFound)
	if err != nil {
		return nil, err
	}
	var body struct {
		ReasonID string `json:"reason_id"`
		Comment  string `json:"comment"`
		StageID  string `json:"stage_id"`
	}
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	req := endpoint.Lose{ID: id, ReasonID: httpkit.OptionalID(&v, "reason_id", body.ReasonID), StageID: httpkit.OptionalID(&v, "stage_id", body.StageID),
		Comment: strings.TrimSpace(body.Comment)}
	return req, v.Err()
}

func decodeLossReasons(_ context.Context, r *http.Request) (any, error) {
	archived, err := httpkit.ParseBool(r, "include_archived")
	return endpoint.LossReasons{Archived: archived}, err
}

func decodeAddReason(_ context.Context, r *http.Request) (any, error) {
	var body struct {
		Name string `json:"name"`
	}
	err := httpkit.DecodeJSON(r, &body)
	return endpoint.AddLossReason{Name: body.Name}, err
}

func decodeChangeReason(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathRef(r, domain.ErrLossReasonNotFound)
	if err != nil {
		return nil, err
	}
	var body struct {
		Name     *string `json:"name"`
		Archived *bool   `json:"archived"`
	}
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	return endpoint.ChangeReason{ID: id, Name: body.Name, Archived: body.Archived}, nil
}

func decodeSetRate(_ context.Context, r *http.Request) (any, error) {
	var body struct {
		Currency string `json:"currency"`
		Rate     string `json:"rate"`
	}
	err := httpkit.DecodeJSON(r, &body)
	return endpoint.SetRate{Currency: body.Currency, Rate: body.Rate}, err
}

func decodeListDeals(_ context.Context, r *http.Request) (any, error) {
	q := service.DealQuery{}
	limit, err := httpkit.ParseLimit(r, service.DefaultLimit, service.MaxLimit)
	if err != nil {
		return nil, err
	}
	q.Limit = limit
	if s := r.URL.Query().Get("cursor"); s != "" {
		var c cursor
		if err := httpkit.DecodeCursor(s, &c); err != nil {
			return nil, err
		}
		q.After = c.After
	}
	var v apperr.Invalid
	get := r.URL.Query().Get
	q.PipelineID = httpkit.OptionalID(&v, "pipeline_id", get("pipeline_id"))
	q.StageID = httpkit.OptionalID(&v, "stage_id", get("stage_id"))
	q.ContactID = httpkit.OptionalID(&v, "contact_id", get("contact_id"))
	q.CompanyID = httpkit.OptionalID(&v, "company_id", get("company_id"))
	q.OwnerID = get("owner_id")
	q.Tag = strings.ToLower(strings.TrimSpace(get("tag")))
	switch s := get("status"); s {
	case "", "open", "won", "lost":
		q.Status = domain.Status(s)
	default:
		v.Add("status", "must be open, won or lost")
	}
	amount := func(name string) *int64 {
		s := get(name)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			v.Add(name, "must be a whole, non-negative amount in minor units")
			return nil
		}
		return &n
	}
	q.AmountMin, q.AmountMax = amount("amount_min"), amount("amount_max")
	date := func(name string) string {
		s := get(name)
		if s != "" && !domain.ValidDate(s) {
			v.Add(name, "must be a date between 1900-01-01 and 9999-12-31, such as 2026-12-31")
		}
		return s
	}
	q.CloseFrom, q.CloseTo = date("close_from"), date("close_to")
	switch s := get("next_step"); s {
	case "", service.NextStepNone, service.NextStepOverdue:
		q.NextStep = s
	default:
		v.Add("next_step", "must be none (open deals without an open task) or overdue (open deals whose next step is late)")
	}
	return endpoint.ListDeals{Query: q}, v.Err()
}

// decodeOptional decodes a JSON body when there is one.
func invalid(field, message string) error {
	var v apperr.Invalid
	v.Add(field, message)
	return v.Err()
}
