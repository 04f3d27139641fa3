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

// Deal is an opportunity moving through a pipeline. Its fields are
// private: a deal is made by NewDeal, changed by its methods and rebuilt
// from storage by UnmarshalDealFromDatabase.
type Deal struct {
	id       uuid.UUID
	tenantID uuid.UUID
	values   DealValues
	standing DealStanding
	version  int64
	created  time.Time
	updated  time.Time
	next     *NextStep
}

// DealValues are what a client sets on a deal.
type DealValues struct {
	Title string
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
	Custom map[string]any
}

// DealStanding is where a deal is in its pipeline, which only moves change.
type DealStanding struct {
	PipelineID     uuid.UUID
	StageID        uuid.UUID
	Status         Status
	LossReasonID   uuid.UUID
	LossComment    string
	StageEnteredAt time.Time
	ClosedAt       *time.Time
}

// UnmarshalDealFromDatabase rebuilds a deal that was stored; it trusts its
// input, which the deal's own methods validated before it was stored.
func UnmarshalDealFromDatabase(id, tenantID uuid.UUID, v DealValues, s DealStanding, version int64, createdAt, updatedAt time.Time) *Deal {
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Custom == nil {
		v.Custom = map[string]any{}
	}
	return &Deal{id: id, tenantID: tenantID, values: v, standing: s, version: version, created: createdAt, updated: updatedAt}
}

// NextStep is a deal's next step: its open task due first, as the tasks
// service tells it. It is read with the deal, never written by it.
type NextStep struct {
	TaskID uuid.UUID
	Kind   string
	DueAt  *time.Time
	// DueDate is an all-day task's day (YYYY-MM-DD), "" otherwise.
	DueDate string
	Overdue bool
}

// WithNextStep gives a deal read from storage its next step (nil: none).
func (d *Deal) WithNextStep(n *NextStep) *Deal {
	d.next = n
	return d
}

// NextStep is the deal's next step as last read (nil: none, or not read).
func (d *Deal) NextStep() *NextStep { return d.next }

// The deal's fields.
func (d *Deal) ID() uuid.UUID             { return d.id }
func (d *Deal) TenantID() uuid.UUID       { return d.tenantID }
func (d *Deal) Title() string             { return d.values.Title }
func (d *Deal) Amount() *int64            { return d.values.Amount }
func (d *Deal) Currency() string          { return d.values.Currency }
func (d *Deal) ContactID() uuid.UUID      { return d.values.ContactID }
func (d *Deal) CompanyID() uuid.UUID      { return d.values.CompanyID }
func (d *Deal) OwnerID() string           { return d.values.OwnerID }
func (d *Deal) Team() string              { return d.values.Team }
func (d *Deal) ExpectedCloseDate() string { return d.values.ExpectedCloseDate }
func (d *Deal) Source() string            { return d.values.Source }
func (d *Deal) Tags() []string            { return d.values.Tags }
func (d *Deal) Custom() map[string]any    { return d.values.Custom }
func (d *Deal) PipelineID() uuid.UUID     { return d.standing.PipelineID }
func (d *Deal) StageID() uuid.UUID        { return d.standing.StageID }
func (d *Deal) Status() Status            { return d.standing.Status }
func (d *Deal) LossReasonID() uuid.UUID   { return d.standing.LossReasonID }
func (d *Deal) LossComment() string       { return d.standing.LossComment }
func (d *Deal) StageEnteredAt() time.Time { return d.standing.StageEnteredAt }
func (d *Deal) ClosedAt() *time.Time      { return d.standing.ClosedAt }
func (d *Deal) Version() int64            { return d.version }
func (d *Deal) CreatedAt() time.Time      { return d.created }
func (d *Deal) UpdatedAt() time.Time      { return d.updated }
func (d *Deal) Values() DealValues        { return d.values }
func (d *Deal) Standing() DealStanding    { return d.standing }

// Advance records a change of the deal at now: its next version.
func (d *Deal) Advance(now time.Time) {
	d.version++
	d.updated = now
}

// DealPatch is a change a client asks of a deal's values; nil members are
// not given.
type DealPatch struct {
	Title     *string
	Amount    *AmountChange
	Currency  *string
	ContactID *uuid.UUID
	CompanyID *uuid.UUID
	OwnerID   *string
	// Team is whose managers see the deal ("" none); by default the
	// creator's when they own it.
	Team              *string
	ExpectedCloseDate *string
	Source            *string
	Tags              *[]string
	// Custom sets custom field values by key (null clears one); nil: not given.
	Custom map[string]any
}

// AmountChange sets a deal's amount (in minor units of its currency), or
// with Unknown clears it.
type AmountChange struct {
	Minor   int64
	Unknown bool
}

// Changed lists the JSON names of the members given.
func (f DealPatch) Changed() []string {
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

// Apply validates the patch f into the deal (stage and pipeline move
// through NewDeal and the moves); custom values are checked against the
// tenant's deal fields, defs. The deal's own stage (of p) keeps demanding
// what it demanded on entry. Money in messages is written as the tenant's
// locale writes it.
func (d *Deal) Apply(p *Pipeline, f DealPatch, defs []customfield.Def, locale string) error {
	var v apperr.Invalid
	d.apply(&v, f, defs, locale)
	if err := v.Err(); err != nil {
		return err
	}
	if st := p.Stage(d.standing.StageID); st != nil {
		if missing := d.Missing(st); len(missing) > 0 {
			return ErrMissingRequired(st.Name, missing)
		}
	}
	return nil
}

func (d *Deal) apply(v *apperr.Invalid, f DealPatch, defs []customfield.Def, locale string) {
	x := &d.values
	if f.Title != nil {
		x.Title = checkName(v, "title", *f.Title)
	}
	cur, curOK := x.Currency, true
	if f.Currency != nil {
		cur, curOK = ParseCurrency(*f.Currency)
	}
	if a := f.Amount; a != nil {
		if !a.Unknown && (a.Minor < 0 || a.Minor > MaxAmount) {
			example := x.Currency
			if curOK {
				example = cur
			}
			v.Add("amount", "must be between 0 and 10^15 minor units of the currency (150000 is "+FormatMoney(locale, 150000, example)+")")
		}
		if a.Unknown {
			x.Amount = nil
		} else {
			m := a.Minor
			x.Amount = &m
		}
	}
	if f.Currency != nil {
		if !curOK {
			v.Add("currency", "must be an ISO 4217 currency code such as RUB, USD or EUR")
		}
		x.Currency = cur
	}
	if f.ContactID != nil {
		x.ContactID = *f.ContactID
	}
	if f.CompanyID != nil {
		x.CompanyID = *f.CompanyID
	}
	if f.OwnerID != nil {
		owner := strings.TrimSpace(*f.OwnerID)
		switch {
		case owner == "" || utf8.RuneCountInString(owner) > maxName:
			v.Add("owner_id", "must be 1 to 200 characters")
		case owner != x.OwnerID && f.Team == nil:
			// The old owner's team does not follow the deal to a new owner.
			x.Team = ""
		}
		x.OwnerID = owner
	}
	if f.Team != nil {
		x.Team = strings.TrimSpace(*f.Team)
		if utf8.RuneCountInString(x.Team) > maxName {
			v.Add("team", "must be at most 200 characters")
		}
	}
	if f.ExpectedCloseDate != nil {
		s := strings.TrimSpace(*f.ExpectedCloseDate)
		if s != "" && !ValidDate(s) {
			v.Add("expected_close_date", "must be a date between 1900-01-01 and 9999-12-31, such as 2026-12-31")
		}
		x.ExpectedCloseDate = s
	}
	if f.Source != nil {
		x.Source = strings.TrimSpace(*f.Source)
		if utf8.RuneCountInString(x.Source) > maxName {
			v.Add("source", "must be at most 200 characters")
		}
	}
	if f.Tags != nil {
		x.Tags = []string{}
		for i, t := range *f.Tags {
			t = strings.ToLower(strings.TrimSpace(t))
			switch {
			case t == "" || utf8.RuneCountInString(t) > 64:
				v.Add("tags/"+itoa(i), "must be 1 to 64 characters")
			case !slices.Contains(x.Tags, t):
				x.Tags = append(x.Tags, t)
			}
		}
		if len(x.Tags) > maxTags {
			v.Add("tags", "must hold at most 50 tags")
		}
	}
	if f.Custom != nil {
		x.Custom = customfield.Clean(v, defs, x.Custom, f.Custom)
	}
}

// NewDeal validates a new deal in stage of pipeline p (the pipeline's
// first open stage when stage is nil).
func NewDeal(tenant uuid.UUID, f DealPatch, p *Pipeline, stage *uuid.UUID, baseCurrency, locale string, defs []customfield.Def, now time.Time) (*Deal, error) {
	var v apperr.Invalid
	id, _ := uuid.NewV7()
	d := &Deal{id: id, tenantID: tenant, values: DealValues{Currency: baseCurrency, Tags: []string{}, Custom: map[string]any{}},
		standing: DealStanding{PipelineID: p.ID(), StageEnteredAt: now}, version: 1, created: now, updated: now}
	if f.Title == nil {
		v.Add("title", "is required")
	}
	if f.Custom == nil {
		f.Custom = map[string]any{} // required custom fields hold from the start
	}
	d.apply(&v, f, defs, locale)
	st := p.FirstOf(KindOpen)
	if stage != nil {
		if st = p.Stage(*stage); st == nil {
			v.Add("stage_id", "must be a stage of the deal's pipeline")
		} else if st.Kind != KindOpen {
			v.Add("stage_id", "must be an open stage; a deal is won or lost with /win or /lose")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	d.standing.StageID, d.standing.Status = st.ID, st.Kind
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
			has = d.values.Amount != nil
		case "contact_id":
			has = d.values.ContactID != uuid.Nil
		case "company_id":
			has = d.values.CompanyID != uuid.Nil
		case "expected_close_date":
			has = d.values.ExpectedCloseDate != ""
		case "source":
			has = d.values.Source != ""
		case "tags":
			has = len(d.values.Tags) > 0
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
	t := Transition{Move: Move{ID: id, DealID: d.id, FromStageID: from.ID, ToStageID: st.ID, ActorID: actor, At: now},
		From: from, SecondsInPrevious: int64(now.Sub(d.standing.StageEnteredAt) / time.Second)}
	d.standing.StageID, d.standing.Status, d.standing.StageEnteredAt = st.ID, st.Kind, now
	if st.Kind == KindOpen {
		d.standing.ClosedAt, d.standing.LossReasonID, d.standing.LossComment = nil, uuid.Nil, ""
	} else {
		at := now
		d.standing.ClosedAt = &at
	}
	return t
}

// current is d's stage in p.
func (d *Deal) current(p *Pipeline) Stage {
	if st := p.Stage(d.standing.StageID); st != nil {
		return *st
	}
	return Stage{ID: d.standing.StageID, Kind: d.standing.Status}
}

// MoveTo moves an open deal to another open stage of its pipeline.
func (d *Deal) MoveTo(p *Pipeline, stage uuid.UUID, actor string, now time.Time) (Transition, error) {
	if d.standing.Status != KindOpen {
		return Transition{}, ErrDealClosed(d.standing.Status)
	}
	st := p.Stage(stage)
	if st == nil {
		return Transition{}, invalid("stage_id", "must be a stage of the deal's pipeline")
	}
	if st.Kind != KindOpen {
		return Transition{}, invalid("stage_id", "is a "+string(st.Kind)+" stage; use /"+map[Kind]string{KindWon: "win", KindLost: "lose"}[st.Kind]+" to close the deal")
	}
	if st.ID == d.standing.StageID {
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
	if d.standing.Status != KindOpen {
		return Transition{}, ErrDealClosed(d.standing.Status)
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

// Lose closes an open deal as lost into stage (or the pipeline's first
// lost stage when uuid.Nil), for reason, with the seller's comment.
func (d *Deal) Lose(p *Pipeline, stage, reason uuid.UUID, comment, actor string, now time.Time) (Transition, error) {
	t, err := d.Close(p, KindLost, stage, actor, now)
	if err != nil {
		return t, err
	}
	d.standing.LossReasonID, d.standing.LossComment = reason, comment
	return t, nil
}

// Reopen takes a won or lost deal back to an open stage: stage, or the last
// open stage it was in (from its moves), or the pipeline's first open stage.
func (d *Deal) Reopen(p *Pipeline, stage uuid.UUID, moves []Move, actor string, now time.Time) (Transition, error) {
	if d.standing.Status == KindOpen {
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
