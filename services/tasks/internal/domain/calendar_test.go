package domain

import (
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

func clock(t *testing.T, s string) Clock {
	t.Helper()
	c, err := ParseClock(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func span(t *testing.T, from, to string) Span { return Span{clock(t, from), clock(t, to)} }

// moscowOffice works 09:00–13:00 and 14:00–18:00 on weekdays, Moscow time.
func moscowOffice(t *testing.T, holidays []string, workdays map[string][]Span) *Calendar {
	t.Helper()
	day := []Span{span(t, "09:00", "13:00"), span(t, "14:00", "18:00")}
	c, err := NewCalendar(CalendarSpec{TimeZone: "Europe/Moscow", Holidays: holidays, Workdays: workdays,
		Week: map[time.Weekday][]Span{time.Monday: day, time.Tuesday: day, time.Wednesday: day, time.Thursday: day, time.Friday: day}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNextLandsInsideWorkingHours(t *testing.T) {
	c := moscowOffice(t, []string{"2027-01-04"}, map[string][]Span{"2027-01-09": {span(t, "10:00", "15:00")}})
	msk := func(s string) time.Time { return at(t, "Europe/Moscow", s) }
	for _, tc := range []struct{ from, want string }{
		{"2027-01-05 10:30", "2027-01-05 10:30"}, // inside: stays
		{"2027-01-05 13:20", "2027-01-05 14:00"}, // lunch: after it
		{"2027-01-05 19:30", "2027-01-06 09:00"}, // evening: next morning
		{"2027-01-08 18:00", "2027-01-09 10:00"}, // Friday 18:00 is past the day; Saturday the 9th is a transferred working day
		{"2027-01-09 16:00", "2027-01-11 09:00"}, // then Sunday off, Monday
		{"2027-01-03 12:00", "2027-01-05 09:00"}, // Sunday, then Monday the 4th a holiday
	} {
		got, ok := c.Next(msk(tc.from))
		if !ok || !got.Equal(msk(tc.want)) {
			t.Errorf("Next(%s) = %s, want %s", tc.from, got.In(c.Location()).Format("2006-01-02 15:04"), tc.want)
		}
	}
	// Another zone's instant is read in the calendar's: 07:00 in London is
	// 10:00 in Moscow.
	if got, _ := c.Next(at(t, "Europe/London", "2027-01-05 07:00")); !got.Equal(msk("2027-01-05 10:00")) {
		t.Errorf("an instant given in London: %s", got)
	}
}

func TestNextFollowsDaylightSavingTime(t *testing.T) {
	day := []Span{{clock(t, "09:00"), clock(t, "17:00")}}
	week := map[time.Weekday][]Span{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		week[d] = day
	}
	c, err := NewCalendar(CalendarSpec{TimeZone: "America/New_York", Week: week})
	if err != nil {
		t.Fatal(err)
	}
	// 2027-03-14 is the spring change: the morning still starts at 09:00 local.
	got, _ := c.Next(at(t, "America/New_York", "2027-03-13 18:00"))
	if want := at(t, "America/New_York", "2027-03-14 09:00"); !got.Equal(want) || got.Sub(at(t, "America/New_York", "2027-03-13 18:00")) != 14*time.Hour {
		t.Errorf("across the DST change: %s (want %s, 14 h later)", got, want)
	}
}

func TestPlanMeetsTheOwnersHoursAndTheClientsWindow(t *testing.T) {
	owner := moscowOffice(t, nil, nil)
	msk := func(s string) time.Time { return at(t, "Europe/Moscow", s) }
	// A client in Vladivostok (UTC+10, 7 hours ahead of Moscow) takes calls
	// 09:00–21:00 their time: 02:00–14:00 Moscow time.
	vvo, err := CallWindow("Asia/Vladivostok", span(t, "09:00", "21:00"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, want string }{
		{"2027-01-05 10:00", "2027-01-05 10:00"}, // both open
		{"2027-01-05 13:30", "2027-01-06 09:00"}, // owner at lunch, then the client's evening: next morning
		{"2027-01-05 19:30", "2027-01-06 09:00"}, // "+3 h at 19:30 becomes the next working morning"
	} {
		got, err := Plan(msk(tc.from), owner, vvo)
		if err != nil || !got.Equal(msk(tc.want)) {
			t.Errorf("Plan(%s) = %s, %v; want %s", tc.from, got.In(owner.Location()).Format("2006-01-02 15:04"), err, tc.want)
		}
	}
	// A client whose window never meets the owner's hours.
	night, err := CallWindow("Europe/Moscow", span(t, "22:00", "23:00"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(msk("2027-01-05 10:00"), owner, night); err != ErrNoCommonTime {
		t.Errorf("calendars that never meet: %v", err)
	}
	// An owner with no working day in a year.
	idle, err := NewCalendar(CalendarSpec{TimeZone: "Europe/Moscow"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idle.Next(msk("2027-01-05 10:00")); ok {
		t.Error("a calendar without hours has a next time")
	}
}

func TestNewCalendarNamesWhatIsWrong(t *testing.T) {
	_, err := NewCalendar(CalendarSpec{
		TimeZone: "Mars/Olympus_Mons",
		Week: map[time.Weekday][]Span{
			time.Monday:  {span(t, "09:00", "13:00"), span(t, "12:00", "18:00")},
			time.Tuesday: {span(t, "18:00", "09:00")},
		},
		Holidays: []string{"2027-02-30"},
		Workdays: map[string][]Span{"2027-02-27": nil},
	})
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("want a validation error, have %v", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field+": "+f.Message)
	}
	all := strings.Join(fields, "\n")
	for _, want := range []string{"time_zone", "week/monday: 12:00–18:00 overlaps 09:00–13:00", "week/tuesday/0", "holidays/0", "workdays/2027-02-27"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
	for _, bad := range []string{"9:00", "24:30", "12:60", "noon", "-1:00"} {
		if _, err := ParseClock(bad); err == nil {
			t.Errorf("ParseClock(%q) took it", bad)
		}
	}
	if c, err := ParseClock("24:00"); err != nil || c != EndOfDay {
		t.Errorf("24:00: %v %v", c, err)
	}
}

func TestLadderClimbsUntilItEnds(t *testing.T) {
	l := NoAnswerLadder()
	want := []time.Duration{5 * time.Minute, 30 * time.Minute, 3 * time.Hour, 24 * time.Hour}
	for i, w := range want {
		if d, ok := l.After(i + 1); !ok || d != w {
			t.Errorf("after attempt %d: %s %v, want %s", i+1, d, ok, w)
		}
	}
	if _, ok := l.After(len(want) + 1); ok {
		t.Error("the ladder goes on after its last step")
	}
	_, err := NewLadder([]time.Duration{time.Hour, 30 * time.Minute, 30 * time.Minute, 10 * time.Second})
	e, ok := apperr.As(err)
	if !ok || len(e.Fields) != 3 || e.Fields[0].Field != "steps/1" || e.Fields[2].Field != "steps/3" {
		t.Fatalf("a ladder that is not increasing: %+v", err)
	}
	if _, err := NewLadder(nil); err == nil {
		t.Error("an empty ladder was taken")
	}
	if l, err := NewLadder([]time.Duration{10 * time.Minute, time.Hour}); err != nil || len(l.Steps()) != 2 {
		t.Errorf("a good ladder: %v %v", l.Steps(), err)
	}
}
