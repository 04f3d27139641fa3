package domain

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/customfield"
)

// Deal is an opportunity moving through a pipeline.
type Deal struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Title      string
	PipelineID uuid.UUID
	StageID    uuid.UUID
	Status     Status
	// Amount is in minor units of Currency; nil when not known yet.
	Amount            *int64
	Currency          string
	ContactID         uuid.UUID
	CompanyID         uuid.UUID
	OwnerID           string
	Team              string
	ExpectedCloseDate string // YYYY-MM-DD or ""
	Source            string
	Tags              []string
	// Custom holds custom field values by key (never nil).
	Custom         map[string]any
	LossReasonID   uuid.UUID
	LossComment    string
	StageEnteredAt time.Time
	ClosedAt       *time.Time
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Fields are what a client sets on a deal; nil members are not given.
type Fields struct {
	Title      *string
	PipelineID *uuid.UUID
	StageID    *uuid.UUID
	Amount     **int64
	Currency   *string
	ContactID  *uuid.UUID
	CompanyID  *uuid.UUID
	OwnerID    *string
	// Team is whose managers see the deal ("" none); by default the
	// creator's when they own it.
	Team              *string
	ExpectedCloseDate *string
	Source            *string
	Tags              *[]string
	// Custom sets custom field values by key (null clears one); nil: not given.
	Custom map[string]any
	// Errs are problems found while reading the request (an id that is no
	// id), reported together with the rest.
	Errs []apperr.FieldError
}

// Changed lists the JSON names of the members given.
func (f Fields) Changed() []string {
	var out []string
	add := func(given bool, name string) {
		if given {
			out = append(out, name)
		}
	}
	add(f.Title != nil, "title")
	add(f.Amount != nil, "amount")
	add(f.Currency != nil, "currency")
	add(f.ContactID != nil, "contact_id")
	add(f.CompanyID != nil, "company_id")
	add(f.OwnerID != nil, "owner_id")
	add(f.Team != nil, "team")
	add(f.ExpectedCloseDate != nil, "expected_close_date")
	add(f.Source != nil, "source")
	add(f.Tags != nil, "tags")
	add(f.Custom != nil, "custom")
	return out
}

const maxTags = 50

// MaxAmount bounds a deal's amount (10 trillion in major units of a
// two-digit currency), so that conversions and a stage's sums stay within
// 64 bits.
const MaxAmount = 1_000_000_000_000_000

// Apply validates f's members into d (stage and pipeline excepted: those
// move through NewDeal and the moves); custom values are checked against
// the tenant's deal fields, defs. Money in messages is written as the
// tenant's locale writes it.
func (d *Deal) Apply(v *apperr.Invalid, f Fields, defs []customfield.Def, locale string) {
	for _, e := range f.Errs {
		v.Add(e.Field, e.Message)
	}
	if f.Title != nil {
		d.Title = checkName(v, "title", *f.Title)
	}
	cur, curOK := d.Currency, true
	if f.Currency != nil {
		cur, curOK = ParseCurrency(*f.Currency)
	}
	if f.Amount != nil {
		if a := *f.Amount; a != nil && (*a < 0 || *a > MaxAmount) {
			example := d.Currency
			if curOK {
				example = cur
			}
			v.Add("amount", "must be between 0 and 10^15 minor units of the currency (150000 is "+FormatMoney(locale, 150000, example)+")")
		}
		d.Amount = *f.Amount
	}
	if f.Currency != nil {
		if !curOK {
			v.Add("currency", "must be an ISO 4217 currency code such as RUB, USD or EUR")
		}
		d.Currency = cur
	}
	if f.ContactID != nil {
		d.ContactID = *f.ContactID
	}
	if f.CompanyID != nil {
		d.CompanyID = *f.CompanyID
	}
	if f.OwnerID != nil {
		owner := strings.TrimSpace(*f.OwnerID)
		switch {
		case owner == "" || utf8.RuneCountInString(owner) > maxName:
			v.Add("owner_id", "must be 1 to 200 characters")
		case owner != d.OwnerID && f.Team == nil:
			// The old owner's team does not follow the deal to a new owner.
			d.Team = ""
		}
		d.OwnerID = owner
	}
	if f.Team != nil {
		d.Team = strings.TrimSpace(*f.Team)
		if utf8.RuneCountInString(d.Team) > maxName {
			v.Add("team", "must be at most 200 characters")
		}
	}
	if f.ExpectedCloseDate != nil {
		s := strings.TrimSpace(*f.ExpectedCloseDate)
		if s != "" && !ValidDate(s) {
			v.Add("expected_close_date", "must be a date between 1900-01-01 and 9999-12-31, such as 2026-12-31")
		}
		d.ExpectedCloseDate = s
	}
	if f.Source != nil {
		d.Source = strings.TrimSpace(*f.Source)
		if utf8.RuneCountInString(d.Source) > maxName {
			v.Add("source", "must be at most 200 characters")
		}
	}
	if f.Tags != nil {
		d.Tags = []string{}
		for i, t := range *f.Tags {
			t = strings.ToLower(strings.TrimSpace(t))
			switch {
			case t == "" || utf8.RuneCountInString(t) > 64:
				v.Add("tags/"+itoa(i), "must be 1 to 64 characters")
			case !slices.Contains(d.Tags, t):
				d.Tags = append(d.Tags, t)
			}
		}
		if len(d.Tags) > maxTags {
			v.Add("tags", "must hold at most 50 tags")
		}
	}
	if f.Custom != nil {
		d.Custom = customfield.Clean(v, defs, d.Custom, f.Custom)
	}
}

// NewDeal validates a new deal in stage st of pipeline p (the pipeline's
// first open stage when st is nil).
func NewDeal(tenant uuid.UUID, f Fields, p *Pipeline, baseCurrency, locale string, defs []customfield.Def, now time.Time) (*Deal, error) {
	var v apperr.Invalid
	id, _ := uuid.NewV7()
	d := &Deal{ID: id, TenantID: tenant, PipelineID: p.ID, Currency: baseCurrency, Tags: []string{}, Custom: map[string]any{}, Version: 1,
		CreatedAt: now, UpdatedAt: now, StageEnteredAt: now}
	if f.Title == nil {
		v.Add("title", "is required")
	}
	if f.Custom == nil {
		f.Custom = map[string]any{} // required custom fields hold from the start
	}
	d.Apply(&v, f, defs, locale)
	st := p.FirstOf(KindOpen)
	if f.StageID != nil {
		if st = p.Stage(*f.StageID); st == nil {
			v.Add("stage_id", "must be a stage of the deal's pipeline")
		} else if st.Kind != KindOpen {
			v.Add("stage_id", "must be an open stage; a deal is won or lost with /win or /lose")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	d.StageID, d.Status = st.ID, st.Kind
	if missing := d.Missing(st); len(missing) > 0 {
		return nil, ErrMissingRequired(st.Name, missing)
	}
	return d, nil
}

// ValidDate reports whether s is a calendar date YYYY-MM-DD of a year
// from 1900 to 9999 (the ones a deal may close in, and PostgreSQL stores).
func ValidDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Year() >= 1900 && t.Year() <= 9999
}

// Missing lists the fields stage st requires that d lacks.
func (d *Deal) Missing(st *Stage) []string {
	var out []string
	for _, f := range st.RequiredFields {
		var has bool
		switch f {
		case "amount":
			has = d.Amount != nil
		case "contact_id":
			has = d.ContactID != uuid.Nil
		case "company_id":
			has = d.CompanyID != uuid.Nil
		case "expected_close_date":
			has = d.ExpectedCloseDate != ""
		case "source":
			has = d.Source != ""
		case "tags":
			has = len(d.Tags) > 0
		}
		if !has {
			out = append(out, f)
		}
	}
	return out
}

// Move is a deal's passage from one stage to another.
type Move struct {
	ID          uuid.UUID
	DealID      uuid.UUID
	FromStageID uuid.UUID // uuid.Nil for the stage a deal was created in
	ToStageID   uuid.UUID
	ActorID     string
	At          time.Time
}

// Transition is what a move did, for its event.
type Transition struct {
	Move
	From              Stage
	SecondsInPrevious int64
}

// enter moves d into stage st at now.
func (d *Deal) enter(from Stage, st *Stage, actor string, now time.Time) Transition {
	id, _ := uuid.NewV7()
	t := Transition{Move: Move{ID: id, DealID: d.ID, FromStageID: from.ID, ToStageID: st.ID, ActorID: actor, At: now},
		From: from, SecondsInPrevious: int64(now.Sub(d.StageEnteredAt) / time.Second)}
	d.StageID, d.Status, d.StageEnteredAt = st.ID, st.Kind, now
	if st.Kind == KindOpen {
		d.ClosedAt, d.LossReasonID, d.LossComment = nil, uuid.Nil, ""
	} else {
		at := now
		d.ClosedAt = &at
	}
	return t
}

// current is d's stage in p.
func (d *Deal) current(p *Pipeline) Stage {
	if st := p.Stage(d.StageID); st != nil {
		return *st
	}
	return Stage{ID: d.StageID, Kind: d.Status}
}

// MoveTo moves an open deal to another open stage of its pipeline.
func (d *Deal) MoveTo(p *Pipeline, stage uuid.UUID, actor string, now time.Time) (Transition, error) {
	if d.Status != KindOpen {
		return Transition{}, ErrDealClosed(d.Status)
	}
	st := p.Stage(stage)
	if st == nil {
		return Transition{}, invalid("stage_id", "must be a stage of the deal's pipeline")
	}
	if st.Kind != KindOpen {
		return Transition{}, invalid("stage_id", "is a "+string(st.Kind)+" stage; use /"+map[Kind]string{KindWon: "win", KindLost: "lose"}[st.Kind]+" to close the deal")
	}
	if st.ID == d.StageID {
		return Transition{}, invalid("stage_id", "the deal is already in this stage")
	}
	if missing := d.Missing(st); len(missing) > 0 {
		return Transition{}, ErrMissingRequired(st.Name, missing)
	}
	return d.enter(d.current(p), st, actor, now), nil
}

// Close wins or loses an open deal: into stage (or the pipeline's first
// stage of that kind when uuid.Nil).
func (d *Deal) Close(p *Pipeline, kind Kind, stage uuid.UUID, actor string, now time.Time) (Transition, error) {
	if d.Status != KindOpen {
		return Transition{}, ErrDealClosed(d.Status)
	}
	st := p.FirstOf(kind)
	if stage != uuid.Nil {
		if st = p.Stage(stage); st == nil || st.Kind != kind {
			return Transition{}, invalid("stage_id", "must be a "+string(kind)+" stage of the deal's pipeline")
		}
	}
	if st == nil {
		return Transition{}, ErrNoStageOfKind(kind)
	}
	if kind == KindWon {
		if missing := d.Missing(st); len(missing) > 0 {
			return Transition{}, ErrMissingRequired(st.Name, missing)
		}
	}
	return d.enter(d.current(p), st, actor, now), nil
}

// Reopen takes a won or lost deal back to an open stage: stage, or the last
// open stage it was in (from its moves), or the pipeline's first open stage.
func (d *Deal) Reopen(p *Pipeline, stage uuid.UUID, moves []Move, actor string, now time.Time) (Transition, error) {
	if d.Status == KindOpen {
		return Transition{}, ErrDealOpen
	}
	var st *Stage
	if stage != uuid.Nil {
		if st = p.Stage(stage); st == nil || st.Kind != KindOpen {
			return Transition{}, invalid("stage_id", "must be an open stage of the deal's pipeline")
		}
	}
	for i := len(moves) - 1; st == nil && i >= 0; i-- {
		if s := p.Stage(moves[i].ToStageID); s != nil && s.Kind == KindOpen {
			st = s
		}
	}
	if st == nil {
		st = p.FirstOf(KindOpen)
	}
	if missing := d.Missing(st); len(missing) > 0 {
		return Transition{}, ErrMissingRequired(st.Name, missing)
	}
	return d.enter(d.current(p), st, actor, now), nil
}

// StageTime is how long a deal has spent in one stage, over all its visits.
type StageTime struct {
	StageID uuid.UUID
	Seconds int64
}

// StageTimes adds up the time between a deal's moves, stage by stage, in
// the order the stages were first entered; the current stage counts until now.
func StageTimes(moves []Move, now time.Time) []StageTime {
	var out []StageTime
	at := map[uuid.UUID]int{}
	for i, m := range moves {
		end := now
		if i+1 < len(moves) {
			end = moves[i+1].At
		}
		j, ok := at[m.ToStageID]
		if !ok {
			j = len(out)
			at[m.ToStageID] = j
			out = append(out, StageTime{StageID: m.ToStageID})
		}
		out[j].Seconds += int64(end.Sub(m.At) / time.Second)
	}
	return out
}
