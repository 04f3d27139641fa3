package service

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	salesv1 "github.com/rapportcrm/rapport/pkg/gen/crm/sales/v1"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// Topic is the sales service's event topic; Source its CloudEvents source.
const (
	Topic  = catalog.SalesTopic
	Source = "/rapport/sales"
)

// Event types (ce_type).
const (
	TypeDealCreated      = catalog.DealCreated
	TypeDealUpdated      = catalog.DealUpdated
	TypeDealStageChanged = catalog.DealStageChanged
	TypeDealWon          = catalog.DealWon
	TypeDealLost         = catalog.DealLost
	TypeDealReopened     = catalog.DealReopened
	TypeDealDeleted      = catalog.DealDeleted
	TypePipelineChanged  = catalog.PipelineChanged
)

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// DealMessage is the event form of a deal.
func DealMessage(d *domain.Deal, probability int, base string, rates map[string]domain.Rate) *salesv1.Deal {
	m := &salesv1.Deal{Id: d.ID().String(), TenantId: d.TenantID().String(), Title: d.Title(), PipelineId: d.PipelineID().String(),
		StageId: d.StageID().String(), Status: string(d.Status()), Currency: d.Currency(), BaseCurrency: base,
		ContactId: ids.String(d.ContactID()), CompanyId: ids.String(d.CompanyID()), OwnerId: d.OwnerID(), Team: d.Team(),
		ExpectedCloseDate: d.ExpectedCloseDate(), Source: d.Source(), Tags: d.Tags(), LossReasonId: ids.String(d.LossReasonID()),
		LossComment: d.LossComment(), Probability: int32(probability), Version: d.Version(), CreatedAt: ts(d.CreatedAt()),
		UpdatedAt: ts(d.UpdatedAt()), StageEnteredAt: ts(d.StageEnteredAt())}
	if d.Amount() != nil {
		m.Amount, m.HasAmount = *d.Amount(), true
		if rate, ok := rates[d.Currency()]; ok || d.Currency() == base {
			m.AmountBase, _ = domain.ToBase(*d.Amount(), d.Currency(), base, rate)
		}
	}
	if d.ClosedAt() != nil {
		m.ClosedAt = ts(*d.ClosedAt())
	}
	if len(d.Custom()) > 0 {
		// Values are what customfield.Clean returns: JSON types only.
		if st, err := structpb.NewStruct(d.Custom()); err == nil {
			m.Custom = st
		}
	}
	return m
}

// dealEvent builds the event of a deal change; t is the move it made, if any.
func dealEvent(typ string, d *domain.Deal, probability int, base string, rates map[string]domain.Rate, actor string, t *domain.Transition, reason string, changed ...string) (events.Event, error) {
	deal := DealMessage(d, probability, base, rates)
	var change *salesv1.StageChange
	if t != nil {
		change = &salesv1.StageChange{PreviousStageId: t.From.ID.String(), PreviousStageKind: string(t.From.Kind),
			PreviousProbability: int32(t.From.Probability), SecondsInPreviousStage: t.SecondsInPrevious, MovedAt: ts(t.At)}
	}
	var msg proto.Message
	switch typ {
	case TypeDealCreated:
		msg = &salesv1.DealCreated{Deal: deal, ActorId: actor}
	case TypeDealUpdated:
		msg = &salesv1.DealUpdated{Deal: deal, ActorId: actor, ChangedFields: changed}
	case TypeDealStageChanged:
		msg = &salesv1.DealStageChanged{Deal: deal, ActorId: actor, Change: change}
	case TypeDealWon:
		msg = &salesv1.DealWon{Deal: deal, ActorId: actor, Change: change}
	case TypeDealLost:
		msg = &salesv1.DealLost{Deal: deal, ActorId: actor, Change: change, Reason: reason}
	case TypeDealReopened:
		msg = &salesv1.DealReopened{Deal: deal, ActorId: actor, Change: change}
	case TypeDealDeleted:
		msg = &salesv1.DealDeleted{Deal: deal, ActorId: actor, DeletedAt: ts(time.Now())}
	}
	e, err := events.New(Topic, Source, typ, d.TenantID(), d.ID().String(), msg)
	if err != nil {
		return e, err
	}
	// The contacts service files deal events in the contact's timeline.
	if d.ContactID() != uuid.Nil {
		e.Extensions = map[string]string{events.ExtContactID: d.ContactID().String()}
	}
	return e, nil
}

// PipelineMessage is the event form of a pipeline.
func PipelineMessage(p *domain.Pipeline) *salesv1.Pipeline {
	m := &salesv1.Pipeline{Id: p.ID().String(), TenantId: p.TenantID().String(), Name: p.Name(), Version: p.Version(),
		CreatedAt: ts(p.CreatedAt()), UpdatedAt: ts(p.UpdatedAt())}
	for _, st := range p.Stages() {
		m.Stages = append(m.Stages, &salesv1.Stage{Id: st.ID.String(), Name: st.Name, Color: st.Color,
			Probability: int32(st.Probability), Kind: string(st.Kind), Position: int32(st.Position), RequiredFields: st.RequiredFields})
	}
	return m
}

// pipelineEvent is crm.pipeline.changed for p.
func pipelineEvent(p *domain.Pipeline, actor string, deleted bool, moved map[string]string) (events.Event, error) {
	return events.New(Topic, Source, TypePipelineChanged, p.TenantID(), p.ID().String(),
		&salesv1.PipelineChanged{Pipeline: PipelineMessage(p), ActorId: actor, Deleted: deleted, MovedDeals: moved})
}
