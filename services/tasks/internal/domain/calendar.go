package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Clock is a time of day in minutes after midnight, 00:00 to 24:00.
type Clock int

// EndOfDay is 24:00, the end of a span that runs to midnight.
const EndOfDay Clock = 24 * 60

// ParseClock reads "HH:MM" (24:00 allowed, as a span's end).
func ParseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day such as 09:00", s)
	}
	return Clock(hh*60 + mm), nil
}

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Span is a stretch of a day, From up to (not including) To.
type Span struct{ From, To Clock }

func (s Span) String() string { return s.From.String() + "–" + s.To.String() }

// Calendar is when someone can be worked with, in their time zone: hours
// per weekday, days off (holidays), and days worked with hours of their
// own (the Saturdays a production calendar transfers a holiday from). It
// is an owner's working time and, with every day alike, a client's call
// window.
type Calendar struct {
	loc      *time.Location
	week     [7][]Span
	holidays map[civilDate]bool
	workdays map[civilDate][]Span
	capacity int
}

// Capacity is how many tasks an hour holds (0: no limit).
func (c *Calendar) Capacity() int { return c.capacity }

// Works reports whether t lies inside the calendar's hours.
func (c *Calendar) Works(t time.Time) bool {
	n, ok := c.Next(t)
	return ok && n.Equal(t)
}

// CalendarSpec is a calendar as a tenant or a user describes it. Dates are
// YYYY-MM-DD.
type CalendarSpec struct {
	TimeZone string
	Week     map[time.Weekday][]Span
	Holidays []string
	// Workdays are days worked with the hours given, even if the week
	// gives none (a transferred working Saturday) or they are holidays.
	Workdays map[string][]Span
	// Capacity is how many tasks an hour holds (0: no limit): planning
	// into a full hour is refused with the nearest free ones.
	Capacity int
}

type civilDate struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) civilDate { y, m, d := t.Date(); return civilDate{y, m, d} }

func parseDate(s string) (civilDate, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return civilDate{}, false
	}
	return dateOf(t), true
}

var weekdayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// NewCalendar validates spec: a zone the IANA database knows, spans that
// end after they start and do not overlap, real dates. Every broken rule
// is reported under its path (time_zone, week/monday/1, holidays/0,
// workdays/2027-02-27/0).
func NewCalendar(spec CalendarSpec) (*Calendar, error) {
	var v apperr.Invalid
	loc, err := time.LoadLocation(spec.TimeZone)
	if spec.TimeZone == "" || err != nil {
		v.Add("time_zone", "must be an IANA time zone such as Europe/Moscow")
	}
	c := &Calendar{loc: loc, holidays: map[civilDate]bool{}, workdays: map[civilDate][]Span{}}
	for day := time.Sunday; day <= time.Saturday; day++ {
		c.week[day] = checkSpans(&v, "week/"+weekdayNames[day], spec.Week[day])
	}
	for i, s := range spec.Holidays {
		d, ok := parseDate(s)
		if !ok {
			v.Add("holidays/"+strconv.Itoa(i), "must be a date such as 2027-01-01")
			continue
		}
		c.holidays[d] = true
	}
	for s, spans := range spec.Workdays {
		d, ok := parseDate(s)
		if !ok {
			v.Add("workdays/"+s, "must be a date such as 2027-02-27")
			continue
		}
		if len(spans) == 0 {
			v.Add("workdays/"+s, "must give the day's working hours")
			continue
		}
		c.workdays[d] = checkSpans(&v, "workdays/"+s, spans)
	}
	if spec.Capacity < 0 || spec.Capacity > 60 {
		v.Add("capacity_per_hour", "must be between 0 (no limit) and 60")
	}
	c.capacity = spec.Capacity
	if err := v.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSpans sorts a day's spans, reporting one that ends before it starts
// or overlaps another.
func checkSpans(v *apperr.Invalid, path string, spans []Span) []Span {
	out := slices.Clone(spans)
	for i, s := range spans {
		if s.From < 0 || s.To > EndOfDay || s.To <= s.From {
			v.Add(path+"/"+strconv.Itoa(i), "must end after it starts, within the day (such as 09:00–18:00)")
		}
	}
	slices.SortFunc(out, func(a, b Span) int { return int(a.From - b.From) })
	for i := 1; i < len(out); i++ {
		if out[i].From < out[i-1].To {
			v.Add(path, fmt.Sprintf("%s overlaps %s", out[i], out[i-1]))
		}
	}
	return out
}

// CallWindow is a calendar of the same hours every day in zone: when a
// client may be called (by default 09:00–21:00 their time).
func CallWindow(zone string, hours Span) (*Calendar, error) {
	week := map[time.Weekday][]Span{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		week[d] = []Span{hours}
	}
	return NewCalendar(CalendarSpec{TimeZone: zone, Week: week})
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// spansOn are the working hours of the day d.
func (c *Calendar) spansOn(d civilDate, weekday time.Weekday) []Span {
	if spans, ok := c.workdays[d]; ok {
		return spans
	}
	if c.holidays[d] {
		return nil
	}
	return c.week[weekday]
}

// horizon bounds how far Next looks: a calendar with no working hours for
// a year (every day a holiday) has no next time.
const horizon = 400

// Next is the earliest instant at or after t inside the calendar's hours,
// and false when there is none within a year.
func (c *Calendar) Next(t time.Time) (time.Time, bool) {
	local := t.In(c.loc)
	y, m, d := local.Date()
	for i := 0; i < horizon; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, c.loc)
		for _, s := range c.spansOn(dateOf(day), day.Weekday()) {
			// time.Date normalises a clock a DST change skips.
			start := time.Date(day.Year(), day.Month(), day.Day(), 0, int(s.From), 0, 0, c.loc)
			end := time.Date(day.Year(), day.Month(), day.Day(), 0, int(s.To), 0, 0, c.loc)
			switch {
			case !t.Before(end):
			case t.Before(start):
				return start, true
			default:
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// ErrNoCommonTime answers a plan whose calendars never meet: an owner who
// works only while the client sleeps.
var ErrNoCommonTime = apperr.New(apperr.KindInvalid, "no-common-time",
	"the owner's working hours and the client's call window never meet within a year")

// Plan is the earliest instant at or after at that lies inside every
// calendar given (the owner's working hours, the client's call window):
// "in 3 hours" asked at 19:30 becomes the next working morning.
func Plan(at time.Time, calendars ...*Calendar) (time.Time, error) {
	t := at
	// Each pass moves t forward to where some calendar opens; when no
	// calendar moves it, every one holds t. Meeting calendars meet within
	// a few passes per day, so a bound stops the ones that never do.
	for pass := 0; pass < 4*horizon; pass++ {
		moved := false
		for _, c := range calendars {
			n, ok := c.Next(t)
			if !ok {
				return time.Time{}, ErrNoCommonTime
			}
			if n.After(t) {
				t, moved = n, true
			}
		}
		if !moved {
			return t, nil
		}
		if t.Sub(at) > horizon*24*time.Hour {
			break
		}
	}
	return time.Time{}, ErrNoCommonTime
}
