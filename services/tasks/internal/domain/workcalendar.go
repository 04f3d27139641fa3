package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// ErrCalendarNotFound answers a missing calendar, another tenant's alike.
var ErrCalendarNotFound = apperr.NotFound("calendar")

// ErrDefaultCalendar answers deleting the tenant's default calendar.
var ErrDefaultCalendar = apperr.New(apperr.KindConflict, "default-calendar",
	"the tenant's default calendar cannot be deleted; change it instead")

// SpanDoc is a span as the API and storage write it.
type SpanDoc struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// CalendarDoc is a calendar as the API and storage write it: hours per
// weekday by name, holidays, and transferred working days with their hours.
type CalendarDoc struct {
	TimeZone string               `json:"time_zone"`
	Week     map[string][]SpanDoc `json:"week"`
	Holidays []string             `json:"holidays"`
	Workdays map[string][]SpanDoc `json:"workdays"`
	// CapacityPerHour is how many tasks an hour holds (0: no limit).
	CapacityPerHour int `json:"capacity_per_hour"`
}

// spansOf reads a day's spans, reporting an unreadable clock under
// path/<i>/from or /to.
func spansOf(v *apperr.Invalid, path string, docs []SpanDoc) []Span {
	out := make([]Span, 0, len(docs))
	for i, d := range docs {
		from, errFrom := ParseClock(d.From)
		to, errTo := ParseClock(d.To)
		at := path + "/" + strconv.Itoa(i)
		if errFrom != nil {
			v.Add(at+"/from", "must be a time of day such as 09:00")
		}
		if errTo != nil {
			v.Add(at+"/to", "must be a time of day such as 18:00 (24:00 for midnight)")
		}
		if errFrom == nil && errTo == nil {
			out = append(out, Span{From: from, To: to})
		}
	}
	return out
}

// Spec reads the document as a calendar spec.
func (d CalendarDoc) Spec() (CalendarSpec, error) {
	var v apperr.Invalid
	spec := CalendarSpec{TimeZone: d.TimeZone, Week: map[time.Weekday][]Span{}, Holidays: d.Holidays, Workdays: map[string][]Span{},
		Capacity: d.CapacityPerHour}
	for name, docs := range d.Week {
		day := slices.Index(weekdayNames[:], name)
		if day < 0 {
			v.Add("week/"+name, "must be a weekday: "+strings.Join(weekdayNames[:], ", "))
			continue
		}
		spec.Week[time.Weekday(day)] = spansOf(&v, "week/"+name, docs)
	}
	for date, docs := range d.Workdays {
		spec.Workdays[date] = spansOf(&v, "workdays/"+date, docs)
	}
	return spec, v.Err()
}

// DocOf is spec as a document: every weekday named, sorted dates.
func DocOf(spec CalendarSpec) CalendarDoc {
	d := CalendarDoc{TimeZone: spec.TimeZone, Week: map[string][]SpanDoc{}, Holidays: slices.Sorted(slices.Values(spec.Holidays)),
		Workdays: map[string][]SpanDoc{}, CapacityPerHour: spec.Capacity}
	docs := func(spans []Span) []SpanDoc {
		out := make([]SpanDoc, 0, len(spans))
		for _, s := range spans {
			out = append(out, SpanDoc{From: s.From.String(), To: s.To.String()})
		}
		return out
	}
	for day := time.Sunday; day <= time.Saturday; day++ {
		d.Week[weekdayNames[day]] = docs(spec.Week[day])
	}
	for date, spans := range spec.Workdays {
		d.Workdays[date] = docs(spans)
	}
	if d.Holidays == nil {
		d.Holidays = []string{}
	}
	return d
}

// WorkCalendar is a stored calendar: the tenant's default (no user) or a
// user's own, which replaces it for that user.
type WorkCalendar struct {
	id      uuid.UUID
	userID  string
	spec    CalendarSpec
	cal     *Calendar
	version int64
	updated time.Time
}

// NewWorkCalendar validates a calendar of user ("" the tenant's default).
func NewWorkCalendar(user string, spec CalendarSpec, now time.Time) (*WorkCalendar, error) {
	user = strings.TrimSpace(user)
	if user == "" || len(user) > maxName {
		return nil, apperr.Field("user_id", "must be 1 to 200 characters")
	}
	return newWorkCalendar(user, spec, now)
}

func newWorkCalendar(user string, spec CalendarSpec, now time.Time) (*WorkCalendar, error) {
	cal, err := NewCalendar(spec)
	if err != nil {
		return nil, err
	}
	id, _ := uuid.NewV7()
	return &WorkCalendar{id: id, userID: user, spec: spec, cal: cal, version: 1, updated: now}, nil
}

// Replace sets the calendar's hours, holidays and working days.
func (w *WorkCalendar) Replace(spec CalendarSpec) error {
	cal, err := NewCalendar(spec)
	if err != nil {
		return err
	}
	w.spec, w.cal = spec, cal
	return nil
}

// CheckDelete refuses to delete the tenant's default calendar.
func (w *WorkCalendar) CheckDelete() error {
	if w.userID == "" {
		return ErrDefaultCalendar
	}
	return nil
}

// Advance records a change at now: the calendar's next version.
func (w *WorkCalendar) Advance(now time.Time) {
	w.version++
	w.updated = now
}

// UnmarshalWorkCalendarFromDatabase rebuilds a stored calendar; one that
// no longer validates (a zone the time zone database dropped) is an error.
func UnmarshalWorkCalendarFromDatabase(id uuid.UUID, user string, spec CalendarSpec, version int64, updated time.Time) (*WorkCalendar, error) {
	cal, err := NewCalendar(spec)
	if err != nil {
		return nil, fmt.Errorf("calendar %s: %w", id, err)
	}
	return &WorkCalendar{id: id, userID: user, spec: spec, cal: cal, version: version, updated: updated}, nil
}

// The calendar's fields.
func (w *WorkCalendar) ID() uuid.UUID        { return w.id }
func (w *WorkCalendar) UserID() string       { return w.userID }
func (w *WorkCalendar) Spec() CalendarSpec   { return w.spec }
func (w *WorkCalendar) Calendar() *Calendar  { return w.cal }
func (w *WorkCalendar) Version() int64       { return w.version }
func (w *WorkCalendar) UpdatedAt() time.Time { return w.updated }

// DefaultCalendar is a new tenant's default calendar: Monday to Friday,
// 09:00–18:00 in zone; for a Russian tenant (locale ru*) in Moscow time
// unless zone is given, with the statutory holidays of year and the next
// (Labour Code art. 112), which the admins correct by each year's decree.
func DefaultCalendar(locale, zone string, year int, now time.Time) *WorkCalendar {
	ru := strings.HasPrefix(strings.ToLower(locale), "ru")
	if zone == "" {
		zone = "UTC"
		if ru {
			zone = "Europe/Moscow"
		}
	}
	day := []Span{{From: 9 * 60, To: 18 * 60}}
	spec := CalendarSpec{TimeZone: zone, Week: map[time.Weekday][]Span{time.Monday: day, time.Tuesday: day,
		time.Wednesday: day, time.Thursday: day, time.Friday: day}}
	if ru {
		spec.Holidays = append(RussianHolidays(year), RussianHolidays(year+1)...)
	}
	w, err := newWorkCalendar("", spec, now)
	if err != nil { // a zone this binary's time zone database lacks
		spec.TimeZone = "UTC"
		w, _ = newWorkCalendar("", spec, now)
	}
	return w
}

// RussianHolidays are the non-working holidays of year by the Labour Code
// (art. 112): 1–8 January, 23 February, 8 March, 1 and 9 May, 12 June,
// 4 November; one that falls on a Saturday or a Sunday gives the next
// working day off (the January ones are moved by the year's decree
// instead, which an admin enters with the transferred working days).
func RussianHolidays(year int) []string {
	var out []string
	seen := map[string]bool{}
	add := func(d time.Time) {
		s := d.Format(time.DateOnly)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for d := 1; d <= 8; d++ {
		add(time.Date(year, time.January, d, 0, 0, 0, 0, time.UTC))
	}
	for _, md := range [][2]int{{2, 23}, {3, 8}, {5, 1}, {5, 9}, {6, 12}, {11, 4}} {
		d := time.Date(year, time.Month(md[0]), md[1], 0, 0, 0, 0, time.UTC)
		add(d)
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			next := d.AddDate(0, 0, 1)
			for next.Weekday() == time.Saturday || next.Weekday() == time.Sunday || seen[next.Format(time.DateOnly)] {
				next = next.AddDate(0, 0, 1)
			}
			add(next)
		}
	}
	slices.Sort(out)
	return out
}
