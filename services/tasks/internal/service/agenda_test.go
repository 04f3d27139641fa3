package service

import (
	"testing"
	"time"
)

func TestAgendaDaysEndTheWeekOnSunday(t *testing.T) {
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now                        string // Moscow time
		tomorrow, weekEnd, laterAt string // dates
	}{
		{"2027-01-11 10:00", "2027-01-12", "2027-01-18", "2027-01-18"}, // Monday: the week runs to next Monday
		{"2027-01-15 23:30", "2027-01-16", "2027-01-18", "2027-01-18"}, // Friday night
		{"2027-01-16 09:00", "2027-01-17", "2027-01-18", "2027-01-18"}, // Saturday: nothing after tomorrow this week
		{"2027-01-17 09:00", "2027-01-18", "2027-01-18", "2027-01-19"}, // Sunday: tomorrow is next week; later starts after it
	} {
		now, _ := time.ParseInLocation("2006-01-02 15:04", tc.now, msk)
		d := agendaDays(now.UTC(), msk)
		if d.TomorrowDate != tc.tomorrow || d.WeekEndDate != tc.weekEnd || d.LaterDate != tc.laterAt ||
			d.Tomorrow.In(msk).Hour() != 0 || !d.LaterAt.Equal(maxTime(d.WeekEnd, d.DayAfter)) {
			t.Errorf("%s: tomorrow %s, week end %s, later %s", tc.now, d.TomorrowDate, d.WeekEndDate, d.LaterDate)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
