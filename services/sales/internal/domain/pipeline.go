package domain

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Kind is what a stage means for its deals.
type Kind string

// Stage kinds.
const (
	KindOpen Kind = "open"
	KindWon  Kind = "won"
	KindLost Kind = "lost"
)

// Status of a deal: the kind of its stage.
type Status = Kind

// RequirableFields are the deal fields a stage may demand before a deal
// enters it.
var RequirableFields = []string{"amount", "contact_id", "company_id", "expected_close_date", "source", "tags"}

// Stage is one column of a pipeline.
type Stage struct {
	ID             uuid.UUID
	PipelineID     uuid.UUID
	Name           string
	Color          string
	Probability    int
	Kind           Kind
	Position       int
	RequiredFields []string
}

// Pipeline is a funnel with its stages in order. Its fields are private:
// a pipeline is made by NewPipeline, changed by its methods and rebuilt
// from storage by UnmarshalPipelineFromDatabase.
type Pipeline struct {
	id       uuid.UUID
	tenantID uuid.UUID
	name     string
	stages   []Stage
	version  int64
	created  time.Time
	updated  time.Time
}

// UnmarshalPipelineFromDatabase rebuilds a stored pipeline from its row and
// its stages in order.
func UnmarshalPipelineFromDatabase(id, tenantID uuid.UUID, name string, stages []Stage, version int64, createdAt, updatedAt time.Time) *Pipeline {
	return &Pipeline{id: id, tenantID: tenantID, name: name, stages: stages, version: version, created: createdAt, updated: updatedAt}
}

// The pipeline's fields; Stages is a copy.
func (p *Pipeline) ID() uuid.UUID        { return p.id }
func (p *Pipeline) TenantID() uuid.UUID  { return p.tenantID }
func (p *Pipeline) Name() string         { return p.name }
func (p *Pipeline) Stages() []Stage      { return slices.Clone(p.stages) }
func (p *Pipeline) Version() int64       { return p.version }
func (p *Pipeline) CreatedAt() time.Time { return p.created }
func (p *Pipeline) UpdatedAt() time.Time { return p.updated }

// Advance records a change of the pipeline at now: its next version.
func (p *Pipeline) Advance(now time.Time) {
	p.version++
	p.updated = now
}

// StageSpec is a stage as a client describes it; nil members are not given.
type StageSpec struct {
	Name           *string
	Color          *string
	Probability    *int
	Kind           *string
	RequiredFields *[]string
}

var colorRe = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

const maxName = 200

func checkName(v *apperr.Invalid, field, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		v.Add(field, "must not be empty")
	case utf8.RuneCountInString(s) > maxName:
		v.Add(field, "must be at most 200 characters")
	}
	return s
}

// defaultProbability is a new stage's probability when none is given.
func defaultProbability(k Kind) int {
	switch k {
	case KindWon:
		return 100
	case KindLost:
		return 0
	}
	return 10
}

// NewStage validates a new stage; field paths start with prefix.
func NewStage(v *apperr.Invalid, prefix string, s StageSpec) Stage {
	id, _ := uuid.NewV7()
	st := Stage{ID: id, Kind: KindOpen, Color: "#9e9e9e"}
	if s.Name == nil {
		v.Add(prefix+"name", "is required")
	} else {
		st.Name = checkName(v, prefix+"name", *s.Name)
	}
	if s.Kind != nil {
		st.Kind = Kind(*s.Kind)
	}
	st.Probability = defaultProbability(st.Kind)
	st.apply(v, prefix, s)
	return st
}

// Change applies the given members of s to a stage.
func (st *Stage) Change(v *apperr.Invalid, s StageSpec) {
	if s.Name != nil {
		st.Name = checkName(v, "name", *s.Name)
	}
	if s.Kind != nil {
		st.Kind = Kind(*s.Kind)
	}
	st.apply(v, "", s)
}

func (st *Stage) apply(v *apperr.Invalid, prefix string, s StageSpec) {
	switch st.Kind {
	case KindOpen, KindWon, KindLost:
	default:
		v.Add(prefix+"kind", "must be open, won or lost")
	}
	if s.Color != nil {
		if !colorRe.MatchString(*s.Color) {
			v.Add(prefix+"color", "must be a colour such as #4caf50")
		}
		st.Color = strings.ToLower(*s.Color)
	}
	if s.Probability != nil {
		if *s.Probability < 0 || *s.Probability > 100 {
			v.Add(prefix+"probability", "must be between 0 and 100")
		}
		st.Probability = *s.Probability
	}
	if s.RequiredFields != nil {
		st.RequiredFields = []string{}
		for i, f := range *s.RequiredFields {
			if !slices.Contains(RequirableFields, f) {
				v.Add(prefix+"required_fields/"+itoa(i), "must be one of "+strings.Join(RequirableFields, ", "))
				continue
			}
			if !slices.Contains(st.RequiredFields, f) {
				st.RequiredFields = append(st.RequiredFields, f)
			}
		}
	}
	if st.RequiredFields == nil {
		st.RequiredFields = []string{}
	}
}

// NewPipeline validates a new pipeline; with no stages it gets the default
// stages in the tenant's language.
func NewPipeline(tenant uuid.UUID, name string, stages []StageSpec, locale string, now time.Time) (*Pipeline, error) {
	var v apperr.Invalid
	id, _ := uuid.NewV7()
	p := &Pipeline{id: id, tenantID: tenant, name: checkName(&v, "name", name), version: 1, created: now, updated: now}
	if stages == nil {
		stages = DefaultStages(locale)
	}
	for i, s := range stages {
		p.stages = append(p.stages, NewStage(&v, "stages/"+itoa(i)+"/", s))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	p.renumber()
	if p.FirstOf(KindOpen) == nil {
		return nil, invalid("stages", "must include at least one open stage: new deals start there")
	}
	return p, nil
}

func (p *Pipeline) renumber() {
	for i := range p.stages {
		p.stages[i].Position = i
		p.stages[i].PipelineID = p.id
	}
}

// Stage is a copy of the pipeline's stage id, or nil.
func (p *Pipeline) Stage(id uuid.UUID) *Stage {
	return clone(p.stage(id))
}

// FirstOf is a copy of the pipeline's first stage of kind k, or nil.
func (p *Pipeline) FirstOf(k Kind) *Stage {
	return clone(p.firstOf(k))
}

func clone(st *Stage) *Stage {
	if st == nil {
		return nil
	}
	c := *st
	return &c
}

func (p *Pipeline) stage(id uuid.UUID) *Stage {
	for i := range p.stages {
		if p.stages[i].ID == id {
			return &p.stages[i]
		}
	}
	return nil
}

func (p *Pipeline) firstOf(k Kind) *Stage {
	for i := range p.stages {
		if p.stages[i].Kind == k {
			return &p.stages[i]
		}
	}
	return nil
}

// AddStage appends a stage, or inserts it at position when given.
func (p *Pipeline) AddStage(s StageSpec, position *int) (Stage, error) {
	var v apperr.Invalid
	st := NewStage(&v, "", s)
	at := len(p.stages)
	if position != nil {
		if *position < 0 || *position > len(p.stages) {
			v.Add("position", "must be between 0 and "+itoa(len(p.stages)))
		} else {
			at = *position
		}
	}
	if err := v.Err(); err != nil {
		return Stage{}, err
	}
	p.stages = slices.Insert(p.stages, at, st)
	p.renumber()
	return *p.Stage(st.ID), nil
}

// ChangeStage changes a stage's name, colour, probability, kind or
// requirements.
func (p *Pipeline) ChangeStage(id uuid.UUID, s StageSpec) (Stage, error) {
	st := p.stage(id)
	if st == nil {
		return Stage{}, ErrStageNotFound
	}
	var v apperr.Invalid
	changed := *st
	changed.Change(&v, s)
	if err := v.Err(); err != nil {
		return Stage{}, err
	}
	before := *st
	*st = changed
	if p.firstOf(KindOpen) == nil {
		*st = before
		return Stage{}, ErrLastOpenStage
	}
	return *st, nil
}

// Reorder puts the stages in the order of ids, which must name each stage
// exactly once.
func (p *Pipeline) Reorder(ids []uuid.UUID) error {
	if len(ids) != len(p.stages) {
		return invalid("stage_ids", "must list each of the pipeline's "+itoa(len(p.stages))+" stages exactly once")
	}
	ordered := make([]Stage, 0, len(ids))
	seen := map[uuid.UUID]bool{}
	for i, id := range ids {
		st := p.Stage(id)
		if st == nil || seen[id] {
			return invalid("stage_ids/"+itoa(i), "must name a stage of this pipeline, once")
		}
		seen[id] = true
		ordered = append(ordered, *st)
	}
	p.stages = ordered
	p.renumber()
	return nil
}

// RemoveStage takes a stage out; moveTo, when not nil, is where its deals go
// and must be another stage of the pipeline.
func (p *Pipeline) RemoveStage(id uuid.UUID, moveTo uuid.UUID) error {
	i := slices.IndexFunc(p.stages, func(s Stage) bool { return s.ID == id })
	if i < 0 {
		return ErrStageNotFound
	}
	if moveTo != uuid.Nil {
		to := p.Stage(moveTo)
		if moveTo == id || to == nil {
			return invalid("move_to", "must be another stage of the same pipeline")
		}
		// A deal's status is its stage's kind: handing deals to a stage of
		// another kind would win, lose or reopen them behind their owners' backs.
		if to.Kind != p.stages[i].Kind {
			return invalid("move_to", "must be a stage of the same kind ("+string(p.stages[i].Kind)+"); win, lose or reopen deals one by one")
		}
	}
	rest := slices.Delete(slices.Clone(p.stages), i, i+1)
	if !slices.ContainsFunc(rest, func(s Stage) bool { return s.Kind == KindOpen }) {
		return ErrLastOpenStage
	}
	p.stages = rest
	p.renumber()
	return nil
}

// Rename changes the pipeline's name.
func (p *Pipeline) Rename(name string) error {
	var v apperr.Invalid
	n := checkName(&v, "name", name)
	if err := v.Err(); err != nil {
		return err
	}
	p.name = n
	return nil
}

// DefaultStages are a new pipeline's stages in the tenant's language.
func DefaultStages(locale string) []StageSpec {
	type def struct {
		ru, en, color string
		prob          int
		kind          Kind
	}
	defs := []def{
		{"Новая", "New", "#90caf9", 10, KindOpen},
		{"Квалификация", "Qualified", "#4fc3f7", 25, KindOpen},
		{"Предложение", "Proposal", "#ffb74d", 50, KindOpen},
		{"Счёт выставлен", "Invoice sent", "#ba68c8", 80, KindOpen},
		{"Успешно", "Won", "#66bb6a", 100, KindWon},
		{"Проиграна", "Lost", "#ef5350", 0, KindLost},
	}
	ru := isRussian(locale)
	out := make([]StageSpec, len(defs))
	for i, d := range defs {
		name := d.en
		if ru {
			name = d.ru
		}
		kind, color, prob := string(d.kind), d.color, d.prob
		spec := StageSpec{Name: &name, Kind: &kind, Color: &color, Probability: &prob}
		if d.en == "Invoice sent" {
			spec.RequiredFields = &[]string{"amount"}
		}
		out[i] = spec
	}
	return out
}

// DefaultPipelineName is the seeded pipeline's name.
func DefaultPipelineName(locale string) string {
	if isRussian(locale) {
		return "Продажи"
	}
	return "Sales"
}

func isRussian(locale string) bool {
	return strings.EqualFold(locale, "ru") || strings.HasPrefix(strings.ToLower(locale), "ru-") || strings.HasPrefix(strings.ToLower(locale), "ru_")
}

func itoa(i int) string { return strconv.Itoa(i) }
