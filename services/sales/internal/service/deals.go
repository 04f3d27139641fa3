package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

var errKindWithDeals = apperr.New(apperr.KindConflict, "stage-has-deals",
	"the stage holds deals and its kind is their status; move them to another stage before changing the kind")

// DealInput is a deal as a request gives it: the values to set and, for a
// new deal, its pipeline and stage. Invalid are what reading the request
// found wrong (an id that is no id), reported with the deal's own checks.
type DealInput struct {
	Patch      domain.DealPatch
	PipelineID *uuid.UUID
	StageID    *uuid.UUID
	Invalid    []apperr.FieldError
}

// DealView is a deal with what its readers need next to it.
type DealView struct {
	*domain.Deal
	// Probability is the deal's stage's.
	Probability int
	StageTimes  []domain.StageTime
}

// CreateDeal creates a deal in a pipeline (the first one when none is given)
// at its first open stage unless a stage is given. With an inline contact
// (a quick deal) it first creates the contact in the contacts service, and
// deletes it again if the deal cannot be stored: either both exist or
// neither does.
func (s *Service) CreateDeal(ctx context.Context, in DealInput, contact []byte) (*DealView, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	f := &in.Patch
	if f.OwnerID == nil {
		owner, err := auth.DefaultOwner(p, "owner_id")
		if err != nil {
			return nil, err
		}
		f.OwnerID = &owner
	}
	if f.Team == nil && *f.OwnerID == p.UserID {
		f.Team = &p.Team // one's own deal belongs to one's team
	}
	if err := s.learnFields(ctx, p.TenantID, f.Custom); err != nil {
		return nil, err
	}
	if err := s.checkSource(ctx, p.TenantID, f); err != nil {
		return nil, err
	}
	if contact != nil {
		if f.ContactID != nil {
			var v apperr.Invalid
			v.Add("contact", "give contact_id or contact, not both")
			return nil, v.Err()
		}
		if s.contacts == nil {
			return nil, errNoContacts
		}
		// Everything about the deal is checked before the contact exists.
		placeholder := uuid.Max
		f.ContactID = &placeholder
		refs := refsOf(domain.DealPatch{CompanyID: f.CompanyID})
		if err := s.asking(ctx, refs, func() error {
			return s.db.Deals.CreateDeal(ctx, p.TenantID, func(r DealTx) (NewDeal, error) {
				if err := s.checkRefs(ctx, r, p, refs); err != nil {
					return NewDeal{}, err
				}
				if _, _, _, err := s.newDeal(ctx, r, p, in); err != nil {
					return NewDeal{}, err
				}
				return NewDeal{}, errChecked
			})
		}); !errors.Is(err, errChecked) {
			return nil, err
		}
		c, err := s.contacts.CreateContact(ctx, contact, true)
		if err != nil {
			return nil, err
		}
		// A retry of a quick deal whose deal failed gets the contact that
		// attempt made and undid (contacts replays its answer to the key):
		// this attempt makes its own.
		known, ok, err := s.db.Parties.Contact(ctx, p.TenantID, c.ID)
		if err != nil {
			return nil, err
		}
		if ok && known.Deleted {
			if c, err = s.contacts.CreateContact(ctx, contact, false); err != nil {
				return nil, err
			}
		}
		f.ContactID = &c.ID
		refs.confirm(c)
		view, err := s.insertDeal(ctx, p, in, refs)
		if err != nil {
			s.undoContact(ctx, p.TenantID, c)
		}
		return view, err
	}
	return s.insertDeal(ctx, p, in, refsOf(*f))
}

// errChecked ends a deal's transaction that only checks it (before a quick
// deal's contact is created): nothing is stored.
var errChecked = errors.New("service: the deal was checked, not stored")

var errNoContacts = apperr.New(apperr.KindUnavailable, "contacts-unavailable",
	"this sales service is not connected to the contacts service, so it cannot create contacts")

// undoContact deletes the contact a failed quick deal created, and
// remembers it as gone.
func (s *Service) undoContact(ctx context.Context, tenant uuid.UUID, c Party) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.contacts.DeleteContact(ctx, c.ID, c.Version)
	if err == nil {
		err = s.db.Parties.ForgetContact(ctx, tenant, c.ID)
	}
	if err != nil && s.log != nil {
		s.log.ErrorContext(ctx, "quick deal: the deal failed and its new contact could not be deleted", "contact", c.ID, "err", err)
	}
}

// newDeal validates a new deal against the tenant's pipeline and rates,
// which it returns for the deal's event.
func (s *Service) newDeal(ctx context.Context, r DealTx, p auth.Principal, in DealInput) (*domain.Deal, *domain.Pipeline, map[string]domain.Rate, error) {
	pl, err := s.pipelineFor(ctx, r, in.PipelineID)
	if err != nil {
		return nil, nil, nil, err
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	defs, err := r.DealFields(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := domain.NewDeal(p.TenantID, in.Patch, pl, in.StageID, base, s.settingsOf(p.TenantID).Locale, defs, s.now())
	if err = apperr.Before(in.Invalid, err); err != nil {
		return nil, nil, nil, err
	}
	rates, err := s.ratesFor(ctx, r, base, d.Currency())
	if err != nil {
		return nil, nil, nil, err
	}
	return d, pl, rates, nil
}

// insertDeal stores a new deal with its first move and its event, once
// the references it names pass in the same transaction (where a quick
// deal's new contact joins the projection).
func (s *Service) insertDeal(ctx context.Context, p auth.Principal, in DealInput, refs *refs) (*DealView, error) {
	base := s.settingsOf(p.TenantID).BaseCurrency
	var view *DealView
	err := s.asking(ctx, refs, func() error {
		return s.db.Deals.CreateDeal(ctx, p.TenantID, func(r DealTx) (NewDeal, error) {
			if err := s.checkRefs(ctx, r, p, refs); err != nil {
				return NewDeal{}, err
			}
			d, pl, rates, err := s.newDeal(ctx, r, p, in)
			if err != nil {
				return NewDeal{}, err
			}
			mid, _ := uuid.NewV7()
			first := domain.Move{ID: mid, DealID: d.ID(), ToStageID: d.StageID(), ActorID: p.UserID, At: d.CreatedAt()}
			st := pl.Stage(d.StageID())
			ev, err := dealEvent(TypeDealCreated, d, st.Probability, base, rates, p.UserID, nil, "")
			if err != nil {
				return NewDeal{}, err
			}
			view = &DealView{Deal: d, Probability: st.Probability, StageTimes: domain.StageTimes([]domain.Move{first}, d.CreatedAt())}
			return NewDeal{Deal: d, First: first, Events: []events.Event{ev}}, nil
		})
	})
	return view, err
}

// checkSource reads a deal's source as one of the tenant's lead sources
// (case aside), into its canonical spelling. Sources sales has not heard of
// are asked of the contacts service (a tenant's seeded sources, a list
// changed a moment ago); a tenant without lead sources takes any source.
func (s *Service) checkSource(ctx context.Context, tenant uuid.UUID, f *domain.DealPatch) error {
	if f.Source == nil || strings.TrimSpace(*f.Source) == "" {
		return nil
	}
	src := strings.TrimSpace(*f.Source)
	find := func(list []string) int {
		return slices.IndexFunc(list, func(x string) bool { return strings.EqualFold(x, src) })
	}
	list, known, err := s.db.Setup.LeadSources(ctx, tenant)
	if err != nil {
		return err
	}
	if (!known || find(list) < 0) && s.contacts != nil {
		fresh, err := s.contacts.LeadSources(ctx)
		if err != nil {
			return err
		}
		if err := s.db.Setup.SetLeadSources(ctx, tenant, fresh); err != nil {
			return err
		}
		list = fresh
	}
	if len(list) == 0 {
		return nil
	}
	i := find(list)
	if i < 0 {
		var v apperr.Invalid
		v.Add("source", "one of the tenant's lead sources (GET /v1/lead-sources): "+strings.Join(list, ", "))
		return v.Err()
	}
	f.Source = &list[i]
	return nil
}

// learnFields makes sure the projection knows the deal fields values name:
// a field defined a moment ago, whose event is still on its way, is asked
// of the contacts service.
func (s *Service) learnFields(ctx context.Context, tenant uuid.UUID, values map[string]any) error {
	if len(values) == 0 || s.contacts == nil {
		return nil
	}
	defs, err := s.db.Setup.DealFields(ctx, tenant)
	if err != nil {
		return err
	}
	for k := range values {
		if !slices.ContainsFunc(defs, func(d customfield.Def) bool { return d.Key == k }) {
			fields, err := s.contacts.DealFields(ctx)
			if err != nil {
				return err
			}
			return s.db.Setup.UpsertFields(ctx, tenant, fields...)
		}
	}
	return nil
}

// pipelineFor is the pipeline named, or the tenant's first one.
func (s *Service) pipelineFor(ctx context.Context, r DealTx, id *uuid.UUID) (*domain.Pipeline, error) {
	if id != nil {
		pl, err := r.Pipeline(ctx, *id, ForShare)
		if err == domain.ErrPipelineNotFound {
			var v apperr.Invalid
			v.Add("pipeline_id", "no such pipeline")
			return nil, v.Err()
		}
		return pl, err
	}
	all, err := r.Pipelines(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		var v apperr.Invalid
		v.Add("pipeline_id", "the tenant has no pipeline yet; create one first")
		return nil, v.Err()
	}
	first := all[0].ID()
	return s.pipelineFor(ctx, r, &first)
}

// ratesFor returns the tenant's rates, refusing a deal currency without one.
func (s *Service) ratesFor(ctx context.Context, r rateReader, base, cur string) (map[string]domain.Rate, error) {
	rates, err := rateMap(ctx, r)
	if err != nil {
		return nil, err
	}
	if _, ok := rates[cur]; !ok && cur != base {
		return nil, domain.ErrNoRate("currency", cur, base)
	}
	return rates, nil
}

// rateReader reads the tenant's rates in a write's transaction.
type rateReader interface {
	Rates(ctx context.Context) ([]CurrencyRate, error)
}

func rateMap(ctx context.Context, r rateReader) (map[string]domain.Rate, error) {
	list, err := r.Rates(ctx)
	if err != nil {
		return nil, err
	}
	return rateMapOf(list), nil
}

func rateMapOf(list []CurrencyRate) map[string]domain.Rate {
	m := make(map[string]domain.Rate, len(list))
	for _, x := range list {
		m[x.Currency] = x.Rate
	}
	return m
}

// readDeal reads a deal the caller may see, with its pipeline and moves.
func (s *Service) readDeal(ctx context.Context, p auth.Principal, id uuid.UUID) (DealState, error) {
	st, err := s.db.Deals.Deal(ctx, p.TenantID, id)
	if err != nil {
		return st, err
	}
	if !seesDeal(p.Viewer(), st.Deal) {
		return DealState{}, domain.ErrDealNotFound
	}
	return st, nil
}

// GetDeal returns a deal with the time it spent in each stage.
func (s *Service) GetDeal(ctx context.Context, id uuid.UUID) (*DealView, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.readDeal(ctx, p, id)
	if err != nil {
		return nil, err
	}
	d := st.Deal
	v := &DealView{Deal: d, StageTimes: stageTimes(d, st.Moves, s.now())}
	if stage := st.Pipeline.Stage(d.StageID()); stage != nil {
		v.Probability = stage.Probability
	}
	return v, nil
}

// DealMoves lists a deal's moves, oldest first.
func (s *Service) DealMoves(ctx context.Context, id uuid.UUID) ([]domain.Move, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.readDeal(ctx, p, id)
	return st.Moves, err
}

// dealChange locks a visible deal, checks If-Match and the references
// the change names (refs, nil for none), lets change alter it (returning
// the event to publish), then stores it with the next version.
func (s *Service) dealChange(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, changed []string, refs *refs,
	change func(r DealTx, p auth.Principal, st DealState, now time.Time) (eventType string, t *domain.Transition, reason string, err error)) (*DealView, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	var view *DealView
	err = s.asking(ctx, refs, func() error {
		return s.db.Deals.UpdateDeal(ctx, p.TenantID, id, func(r DealTx, st DealState) (DealChange, error) {
			d, pl := st.Deal, st.Pipeline
			if !seesDeal(p.Viewer(), d) {
				return DealChange{}, domain.ErrDealNotFound
			}
			if err := ifMatch.Check(d.Version()); err != nil {
				return DealChange{}, err
			}
			if refs != nil {
				if err := s.checkRefs(ctx, r, p, refs); err != nil {
					return DealChange{}, err
				}
			}
			now := s.now()
			typ, t, reason, err := change(r, p, st, now)
			if err != nil {
				return DealChange{}, err
			}
			rates := make(map[string]domain.Rate, len(st.Rates))
			for _, x := range st.Rates {
				rates[x.Currency] = x.Rate
			}
			if _, ok := rates[d.Currency()]; !ok && d.Currency() != base {
				return DealChange{}, domain.ErrNoRate("currency", d.Currency(), base)
			}
			d.Advance(now)
			moves := st.Moves
			var move *domain.Move
			if t != nil {
				move = &t.Move
				moves = append(moves, t.Move)
			}
			view = &DealView{Deal: d, StageTimes: stageTimes(d, moves, now)}
			if stage := pl.Stage(d.StageID()); stage != nil {
				view.Probability = stage.Probability
			}
			ev, err := dealEvent(typ, d, view.Probability, base, rates, p.UserID, t, reason, changed...)
			if err != nil {
				return DealChange{}, err
			}
			return DealChange{Deal: d, Move: move, Events: []events.Event{ev}}, nil
		})
	})
	return view, err
}

// UpdateDeal changes a deal's fields other than its stage.
func (s *Service) UpdateDeal(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, in DealInput) (*DealView, error) {
	if in.PipelineID != nil || in.StageID != nil {
		var v apperr.Invalid
		v.Add("stage_id", "a deal changes stage with POST /v1/deals/{id}/move, /win, /lose or /reopen")
		return nil, v.Err()
	}
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	f := in.Patch
	// Who may change the deal is settled before anything is asked of the
	// contacts service about the values: dealChange checks the contact and
	// company after the deal; a custom value or a source is asked about
	// before, so the deal is read first.
	if f.Custom != nil || f.Source != nil {
		if _, err := s.readDeal(ctx, p, id); err != nil {
			return nil, err
		}
	}
	if err := s.learnFields(ctx, p.TenantID, f.Custom); err != nil {
		return nil, err
	}
	if err := s.checkSource(ctx, p.TenantID, &f); err != nil {
		return nil, err
	}
	locale := s.settingsOf(p.TenantID).Locale
	return s.dealChange(ctx, id, ifMatch, f.Changed(), refsOf(f), func(r DealTx, _ auth.Principal, st DealState, _ time.Time) (string, *domain.Transition, string, error) {
		d, pl := st.Deal, st.Pipeline
		defs, err := r.DealFields(ctx)
		if err != nil {
			return "", nil, "", err
		}
		if err := apperr.Before(in.Invalid, d.Apply(pl, f, defs, locale)); err != nil {
			return "", nil, "", err
		}
		return TypeDealUpdated, nil, "", nil
	})
}

// MoveDeal moves an open deal to another open stage of its pipeline.
func (s *Service) MoveDeal(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, stage uuid.UUID) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, nil, nil, func(_ DealTx, p auth.Principal, st DealState, now time.Time) (string, *domain.Transition, string, error) {
		t, err := st.Deal.MoveTo(st.Pipeline, stage, p.UserID, now)
		return TypeDealStageChanged, &t, "", err
	})
}

// WinDeal closes an open deal as won.
func (s *Service) WinDeal(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, stage uuid.UUID) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, nil, nil, func(_ DealTx, p auth.Principal, st DealState, now time.Time) (string, *domain.Transition, string, error) {
		t, err := st.Deal.Close(st.Pipeline, domain.KindWon, stage, p.UserID, now)
		return TypeDealWon, &t, "", err
	})
}

// LoseDeal closes an open deal as lost, for a reason.
func (s *Service) LoseDeal(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, stage, reason uuid.UUID, comment string) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, nil, nil, func(r DealTx, p auth.Principal, st DealState, now time.Time) (string, *domain.Transition, string, error) {
		d, pl := st.Deal, st.Pipeline
		if d.Status() != domain.KindOpen {
			return "", nil, "", domain.ErrDealClosed(d.Status())
		}
		var v apperr.Invalid
		if reason == uuid.Nil {
			v.Add("reason_id", "is required: say why the deal was lost (GET /v1/loss-reasons)")
		}
		if len([]rune(comment)) > 2000 {
			v.Add("comment", "must be at most 2000 characters")
		}
		if err := v.Err(); err != nil {
			return "", nil, "", err
		}
		lr, err := r.LossReason(ctx, reason, false)
		if err == domain.ErrLossReasonNotFound || (err == nil && lr.Archived()) {
			v.Add("reason_id", "no such loss reason (or it is archived)")
			return "", nil, "", v.Err()
		}
		if err != nil {
			return "", nil, "", err
		}
		t, err := d.Lose(pl, stage, reason, comment, p.UserID, now)
		if err != nil {
			return "", nil, "", err
		}
		return TypeDealLost, &t, lr.Name(), nil
	})
}

// ReopenDeal takes a won or lost deal back to an open stage.
func (s *Service) ReopenDeal(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, stage uuid.UUID) (*DealView, error) {
	return s.dealChange(ctx, id, ifMatch, nil, nil, func(_ DealTx, p auth.Principal, st DealState, now time.Time) (string, *domain.Transition, string, error) {
		t, err := st.Deal.Reopen(st.Pipeline, stage, st.Moves, p.UserID, now)
		return TypeDealReopened, &t, "", err
	})
}

// DeleteDeal deletes a deal and its history.
func (s *Service) DeleteDeal(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	base := s.settingsOf(p.TenantID).BaseCurrency
	return s.db.Deals.DeleteDeal(ctx, p.TenantID, id, func(r DealTx, d *domain.Deal) ([]events.Event, error) {
		if !seesDeal(p.Viewer(), d) {
			return nil, domain.ErrDealNotFound
		}
		if err := ifMatch.Check(d.Version()); err != nil {
			return nil, err
		}
		rates, err := rateMap(ctx, r)
		if err != nil {
			return nil, err
		}
		ev, err := dealEvent(TypeDealDeleted, d, 0, base, rates, p.UserID, nil, "")
		return []events.Event{ev}, err
	})
}

// ListDeals pages through the deals the caller may see.
func (s *Service) ListDeals(ctx context.Context, q DealQuery) ([]*domain.Deal, *uuid.UUID, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	q.Viewer = p.Viewer()
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	want := q.Limit
	q.Limit++
	out, err := s.db.Deals.ListDeals(ctx, p.TenantID, q)
	if err != nil || len(out) <= want {
		return out, nil, err
	}
	next := out[want-1].ID()
	return out[:want], &next, nil
}

// stageTimes adds up a deal's time per stage; a won or lost deal's time
// stopped when it closed.
func stageTimes(d *domain.Deal, moves []domain.Move, now time.Time) []domain.StageTime {
	if d.ClosedAt() != nil {
		now = *d.ClosedAt()
	}
	return domain.StageTimes(moves, now)
}
