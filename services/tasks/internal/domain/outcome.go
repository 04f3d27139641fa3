package domain

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// What an outcome does to the task it ends.
const (
	// ActionComplete ends the task: the step is done.
	ActionComplete = "complete"
	// ActionRetry ends this attempt and plans the next one along the
	// outcome's ladder; past its last step the attempts are exhausted.
	ActionRetry = "retry"
	// ActionCallback ends this attempt and plans the next one when the
	// client asked to be called back (the request says when).
	ActionCallback = "callback"
)

// Actions are the outcomes' actions.
var Actions = []string{ActionComplete, ActionRetry, ActionCallback}

// ErrOutcomeNotFound answers a missing outcome, another tenant's alike.
var ErrOutcomeNotFound = apperr.NotFound("outcome")

// Outcome is a button that ends a task: "No answer", "Reached — agreed
// next step". A tenant's outcomes are seeded in its language and edited by
// its admins; a task ended with one keeps its key.
type Outcome struct {
	id       uuid.UUID
	key      string
	label    string
	action   string
	ladder   Ladder
	position int
	archived bool
	version  int64
	updated  time.Time
}

// OutcomeSpec is an outcome as an admin describes it; Ladder only for
// ActionRetry.
type OutcomeSpec struct {
	Key, Label, Action string
	Ladder             []time.Duration
}

// OutcomePatch changes an outcome's label, ladder or archived state (nil
// members are not given). Its key and action are what tasks and reports
// hold, so they do not change.
type OutcomePatch struct {
	Label    *string
	Ladder   *[]time.Duration
	Archived *bool
}

// NewOutcome validates a new outcome placed at position.
func NewOutcome(spec OutcomeSpec, position int, now time.Time) (*Outcome, error) {
	var v apperr.Invalid
	if !IsKey(spec.Key) {
		v.Add("key", "must be 1 to 40 lower-case letters, digits or _, starting with a letter")
	}
	if !slices.Contains(Actions, spec.Action) {
		v.Add("action", "must be one of "+strings.Join(Actions, ", "))
	}
	o := &Outcome{key: spec.Key, action: spec.Action, position: position, version: 1, updated: now}
	o.id, _ = uuid.NewV7()
	o.check(&v, spec.Label, spec.Ladder, spec.Ladder != nil)
	return o, v.Err()
}

// check validates label and ladder (given: the request names one) for o's
// action and takes them.
func (o *Outcome) check(v *apperr.Invalid, label string, steps []time.Duration, given bool) {
	label = strings.TrimSpace(label)
	if label == "" || utf8.RuneCountInString(label) > 100 {
		v.Add("label", "must be 1 to 100 characters")
	}
	o.label = label
	switch {
	case o.action == ActionRetry:
		l, err := NewLadder(steps)
		if e, ok := apperr.As(err); ok {
			for _, f := range e.Fields {
				v.Add("ladder_minutes"+strings.TrimPrefix(f.Field, "steps"), f.Message)
			}
		}
		o.ladder = l
	case given && len(steps) > 0:
		v.Add("ladder_minutes", "only an outcome whose action is retry has a ladder")
	}
}

// Change applies p, validating the result.
func (o *Outcome) Change(p OutcomePatch) error {
	var v apperr.Invalid
	label, steps := o.label, o.ladder.Steps()
	if p.Label != nil {
		label = *p.Label
	}
	if p.Ladder != nil {
		steps = *p.Ladder
	}
	next := *o
	next.check(&v, label, steps, p.Ladder != nil)
	if err := v.Err(); err != nil {
		return err
	}
	if p.Archived != nil {
		next.archived = *p.Archived
	}
	*o = next
	return nil
}

// Advance records a change at now: the outcome's next version.
func (o *Outcome) Advance(now time.Time) {
	o.version++
	o.updated = now
}

// OutcomeRecord is an outcome as storage holds it.
type OutcomeRecord struct {
	ID                 uuid.UUID
	Key, Label, Action string
	Ladder             []time.Duration
	Position           int
	Archived           bool
	Version            int64
	UpdatedAt          time.Time
}

// UnmarshalOutcomeFromDatabase rebuilds a stored outcome.
func UnmarshalOutcomeFromDatabase(r OutcomeRecord) *Outcome {
	return &Outcome{id: r.ID, key: r.Key, label: r.Label, action: r.Action, ladder: Ladder{steps: r.Ladder},
		position: r.Position, archived: r.Archived, version: r.Version, updated: r.UpdatedAt}
}

// Record is the outcome as storage keeps it.
func (o *Outcome) Record() OutcomeRecord {
	return OutcomeRecord{ID: o.id, Key: o.key, Label: o.label, Action: o.action, Ladder: o.ladder.Steps(),
		Position: o.position, Archived: o.archived, Version: o.version, UpdatedAt: o.updated}
}

// The outcome's fields.
func (o *Outcome) ID() uuid.UUID        { return o.id }
func (o *Outcome) Key() string          { return o.key }
func (o *Outcome) Label() string        { return o.label }
func (o *Outcome) Action() string       { return o.action }
func (o *Outcome) Ladder() Ladder       { return o.ladder }
func (o *Outcome) Position() int        { return o.position }
func (o *Outcome) Archived() bool       { return o.archived }
func (o *Outcome) Version() int64       { return o.version }
func (o *Outcome) UpdatedAt() time.Time { return o.updated }

// The keys of the outcomes every tenant starts with.
const (
	OutcomeNoAnswer      = "no_answer"
	OutcomeReached       = "reached"
	OutcomeCallBackLater = "call_back_later"
	OutcomeWrongNumber   = "wrong_number"
	OutcomeNotInterested = "not_interested"
)

// DefaultOutcomes are the outcomes a tenant starts with, labelled in its
// language (Russian for a locale ru*, else English).
func DefaultOutcomes(locale string) []OutcomeSpec {
	ru := strings.HasPrefix(strings.ToLower(locale), "ru")
	label := func(en, r string) string {
		if ru {
			return r
		}
		return en
	}
	return []OutcomeSpec{
		{Key: OutcomeNoAnswer, Label: label("No answer", "Не дозвонился"), Action: ActionRetry, Ladder: NoAnswerLadder().Steps()},
		{Key: OutcomeReached, Label: label("Reached — agreed next step", "Дозвонился — договорились о следующем шаге"), Action: ActionComplete},
		{Key: OutcomeCallBackLater, Label: label("Call back later", "Просили перезвонить"), Action: ActionCallback},
		{Key: OutcomeWrongNumber, Label: label("Wrong number", "Неверный номер"), Action: ActionComplete},
		{Key: OutcomeNotInterested, Label: label("Not interested", "Не интересно"), Action: ActionComplete},
	}
}

// Minutes are durations as whole minutes, as the API gives ladders.
func Minutes(ds []time.Duration) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = int(d / time.Minute)
	}
	return out
}

// FromMinutes are minutes as durations.
func FromMinutes(ms []int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Minute
	}
	return out
}
