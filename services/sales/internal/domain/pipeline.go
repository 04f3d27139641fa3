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

// Pipeline is a funnel with its stages in order.
type Pipeline struct {
	ID        uuid.UUID
	TenantID  uuid.UUID
	Name      string
	Stages    []Stage
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
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
	p := &Pipeline{ID: id, TenantID: tenant, Name: checkName(&v, "name", name), Version: 1, CreatedAt: now, UpdatedAt: now}
	if stages == nil {
		stages = DefaultStages(locale)
	}
	for i, s := range stages {
		p.Stages = append(p.Stages, NewStage(&v, "stages/"+itoa(i)+"/", s))
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
	for i := range p.Stages {
		p.Stages[i].Position = i
		p.Stages[i].PipelineID = p.ID
	}
}

// Stage finds a stage of the pipeline.
func (p *Pipeline) Stage(id uuid.UUID) *Stage {
	for i := range p.Stages {
		if p.Stages[i].ID == id {
			return &p.Stages[i]
		}
	}
	return nil
}

// FirstOf is the pipeline's first stage of kind k, or nil.
func (p *Pipeline) FirstOf(k Kind) *Stage {
	for i := range p.Stages {
		if p.Stages[i].Kind == k {
			return &p.Stages[i]
		}
	}
	return nil
}

// AddStage appends a stage, or inserts it at position when given.
func (p *Pipeline) AddStage(s StageSpec, position *int) (Stage, error) {
	var v apperr.Invalid
	st := NewStage(&v, "", s)
	at := len(p.Stages)
	if position != nil {
		if *position < 0 || *position > len(p.Stages) {
			v.Add("position", "must be between 0 and "+itoa(len(p.Stages)))
		} else {
			at = *position
		}
	}
	if err := v.Err(); err != nil {
		return Stage{}, err
	}
	p.Stages = slices.Insert(p.Stages, at, st)
	p.renumber()
	return *p.Stage(st.ID), nil
}

// ChangeStage changes a stage's name, colour, probability, kind or
// requirements.
func (p *Pipeline) ChangeStage(id uuid.UUID, s StageSpec) (Stage, error) {
	st := p.Stage(id)
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
	if p.FirstOf(KindOpen) == nil {
		*st = before
		return Stage{}, ErrLastOpenStage
	}
	return *st, nil
}

// Reorder puts the stages in the order of ids, which must name each stage
// exactly once.
func (p *Pipeline) Reorder(ids []uuid.UUID) error {
	if len(ids) != len(p.Stages) {
		return invalid("stage_ids", "must list each of the pipeline's "+itoa(len(p.Stages))+" stages exactly once")
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
	p.Stages = ordered
	p.renumber()
	return nil
}

// RemoveStage takes a stage out; moveTo, when not nil, is where its deals go
// and must be another stage of the pipeline.
func (p *Pipeline) RemoveStage(id uuid.UUID, moveTo uuid.UUID) error {
	i := slices.IndexFunc(p.Stages, func(s Stage) bool { return s.ID == id })
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
		if to.Kind != p.Stages[i].Kind {
			return invalid("move_to", "must be a stage of the same kind ("+string(p.Stages[i].Kind)+"); win, lose or reopen deals one by one")
		}
	}
	rest := slices.Delete(slices.Clone(p.Stages), i, i+1)
	if !slices.ContainsFunc(rest, func(s Stage) bool { return s.Kind == KindOpen }) {
		return ErrLastOpenStage
	}
	p.Stages = rest
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
	p.Name = n
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
