package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Next-step disciplines: what happens when the last open task of an open
// deal is closed without a next one.
const (
	// DisciplineStrict refuses it: 409 next-step-required.
	DisciplineStrict = "strict"
	// DisciplineWarn lets it through with a warning.
	DisciplineWarn = "warn"
	// DisciplineOff says nothing.
	DisciplineOff = "off"
)

// Disciplines are the next-step disciplines.
var Disciplines = []string{DisciplineStrict, DisciplineWarn, DisciplineOff}

// Settings are a tenant's rules of tasks.
type Settings struct {
	Discipline string
	// CallWindow is when clients may be called, on their own clock.
	CallWindow Span
	// FirstResponse is how soon a new deal's first task is due.
	FirstResponse time.Duration
	// ReminderLead is how long before its due time a task is due soon.
	ReminderLead time.Duration
	// RepeatSaleDays plans a repeat-sale task that many days after a deal
	// is won (0: none).
	RepeatSaleDays int
	// ExhaustedLosesDeal loses a deal whose call attempts are exhausted.
	ExhaustedLosesDeal bool
	// Kinds are the tenant's own kinds of task, besides Kinds.
	Kinds     []string
	Version   int64
	UpdatedAt time.Time
}

// DefaultSettings are a new tenant's: strict, clients called 09:00–21:00
// their time, a new deal answered within an hour, reminded 15 minutes
// ahead, no repeat sale.
func DefaultSettings() Settings {
	return Settings{Discipline: DisciplineStrict, CallWindow: Span{From: 9 * 60, To: 21 * 60}, FirstResponse: time.Hour,
		ReminderLead: 15 * time.Minute, Version: 1}
}

// SettingsPatch changes settings; nil members are not given.
type SettingsPatch struct {
	Discipline           *string
	CallWindowFrom       *string
	CallWindowTo         *string
	FirstResponseMinutes *int
	ReminderMinutes      *int
	RepeatSaleDays       *int
	ExhaustedLosesDeal   *bool
	Kinds                *[]string
}

// Apply changes s as p says, validating the result; every broken rule is
// reported under its JSON name.
func (s *Settings) Apply(p SettingsPatch) error {
	next := *s
	var v apperr.Invalid
	if p.Discipline != nil {
		if !slices.Contains(Disciplines, *p.Discipline) {
			v.Add("discipline", "must be one of "+strings.Join(Disciplines, ", "))
		}
		next.Discipline = *p.Discipline
	}
	clock := func(name string, src *string, dst *Clock) {
		if src == nil {
			return
		}
		c, err := ParseClock(*src)
		if err != nil {
			v.Add(name, "must be a time of day such as 09:00")
			return
		}
		*dst = c
	}
	clock("call_window/from", p.CallWindowFrom, &next.CallWindow.From)
	clock("call_window/to", p.CallWindowTo, &next.CallWindow.To)
	if next.CallWindow.To <= next.CallWindow.From {
		v.Add("call_window", "must end after it starts, within the day (such as 09:00–21:00)")
	}
	minutes := func(name string, src *int, lo, hi int, dst *time.Duration) {
		if src == nil {
			return
		}
		if *src < lo || *src > hi {
			v.Add(name, "must be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
		}
		*dst = time.Duration(*src) * time.Minute
	}
	minutes("first_response_minutes", p.FirstResponseMinutes, 1, 43200, &next.FirstResponse)
	minutes("reminder_minutes", p.ReminderMinutes, 0, 10080, &next.ReminderLead)
	if p.RepeatSaleDays != nil {
		if *p.RepeatSaleDays < 0 || *p.RepeatSaleDays > 3650 {
			v.Add("repeat_sale_days", "must be between 0 and 3650")
		}
		next.RepeatSaleDays = *p.RepeatSaleDays
	}
	if p.ExhaustedLosesDeal != nil {
		next.ExhaustedLosesDeal = *p.ExhaustedLosesDeal
	}
	if p.Kinds != nil {
		next.Kinds = []string{}
		for i, k := range *p.Kinds {
			switch {
			case !IsKey(k):
				v.Add("kinds/"+strconv.Itoa(i), "must be 1 to 40 lower-case letters, digits or _, starting with a letter")
			case slices.Contains(Kinds, k) || slices.Contains(next.Kinds, k):
				v.Add("kinds/"+strconv.Itoa(i), "is already a kind")
			}
			next.Kinds = append(next.Kinds, k)
		}
		if len(next.Kinds) > 50 {
			v.Add("kinds", "must hold at most 50 kinds")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	*s = next
	return nil
}
