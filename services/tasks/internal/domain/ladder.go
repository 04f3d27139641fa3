package domain

import (
	"strconv"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Ladder is how an outcome reschedules a task: the delay before each next
// attempt, increasing, until the chain ends ("No answer": 5 min, 30 min,
// 3 h, 1 day, then the attempts are exhausted).
type Ladder struct{ steps []time.Duration }

// MaxLadderSteps bounds a ladder: a chain of calls longer than that is a
// campaign, not a follow-up.
const MaxLadderSteps = 20

// NewLadder validates steps: at least one, each longer than the one before,
// none shorter than a minute or longer than 90 days. A broken step is
// reported under steps/<index>.
func NewLadder(steps []time.Duration) (Ladder, error) {
	var v apperr.Invalid
	if len(steps) == 0 || len(steps) > MaxLadderSteps {
		v.Add("steps", "must hold 1 to "+strconv.Itoa(MaxLadderSteps)+" delays")
	}
	for i, s := range steps {
		switch {
		case s < time.Minute || s > 90*24*time.Hour:
			v.Add("steps/"+strconv.Itoa(i), "must be between 1 minute and 90 days")
		case i > 0 && s <= steps[i-1]:
			v.Add("steps/"+strconv.Itoa(i), "must be longer than the step before it ("+steps[i-1].String()+"): a ladder waits longer after each attempt")
		}
	}
	if err := v.Err(); err != nil {
		return Ladder{}, err
	}
	return Ladder{steps: append([]time.Duration(nil), steps...)}, nil
}

// NoAnswerLadder is the default ladder of the "No answer" outcome.
func NoAnswerLadder() Ladder {
	return Ladder{steps: []time.Duration{5 * time.Minute, 30 * time.Minute, 3 * time.Hour, 24 * time.Hour}}
}

// Steps are the ladder's delays.
func (l Ladder) Steps() []time.Duration { return append([]time.Duration(nil), l.steps...) }

// After is the delay before the attempt that follows attempt (the first
// attempt is 1), and false once the ladder is climbed: the chain ends and
// its attempts are exhausted.
func (l Ladder) After(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(l.steps) {
		return 0, false
	}
	return l.steps[attempt-1], true
}
