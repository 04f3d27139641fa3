package domain

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

func fieldsOf(err error) []string {
	e, _ := apperr.As(err)
	var out []string
	if e != nil {
		for _, f := range e.Fields {
			out = append(out, f.Field)
		}
	}
	return out
}

func TestTheDefaultOutcomesSpeakTheTenantsLanguage(t *testing.T) {
	for locale, first := range map[string]string{"ru-RU": "Не дозвонился", "ru": "Не дозвонился", "en-GB": "No answer", "": "No answer"} {
		specs := DefaultOutcomes(locale)
		if len(specs) != 5 || specs[0].Label != first || specs[0].Key != OutcomeNoAnswer {
			t.Errorf("%q: %+v", locale, specs)
		}
		for i, spec := range specs {
			if _, err := NewOutcome(spec, i, time.Now()); err != nil {
				t.Errorf("%q: the default %s does not validate: %v", locale, spec.Key, err)
			}
		}
	}
}

func TestAnOutcomeKeepsItsKeyAndActionAndAnIncreasingLadder(t *testing.T) {
	o, err := NewOutcome(OutcomeSpec{Key: "busy", Label: "Busy", Action: ActionRetry, Ladder: FromMinutes([]int{10, 60})}, 5, time.Now())
	if err != nil || o.Position() != 5 || !slices.Equal(Minutes(o.Ladder().Steps()), []int{10, 60}) {
		t.Fatalf("%+v %v", o, err)
	}
	bad := FromMinutes([]int{10, 5})
	if err := o.Change(OutcomePatch{Ladder: &bad}); !slices.Equal(fieldsOf(err), []string{"ladder_minutes/1"}) {
		t.Fatalf("a decreasing ladder: %v", err)
	}
	if !slices.Equal(Minutes(o.Ladder().Steps()), []int{10, 60}) {
		t.Fatal("a refused change changed the ladder")
	}
	label, archived := "  Line busy ", true
	if err := o.Change(OutcomePatch{Label: &label, Archived: &archived}); err != nil || o.Label() != "Line busy" || !o.Archived() {
		t.Fatalf("%+v %v", o, err)
	}
	_, err = NewOutcome(OutcomeSpec{Key: "done", Label: "Done", Action: ActionComplete, Ladder: FromMinutes([]int{5})}, 0, time.Now())
	if !slices.Equal(fieldsOf(err), []string{"ladder_minutes"}) {
		t.Fatalf("a ladder on a completing outcome: %v", err)
	}
}

func TestSettingsRefuseAWindowThatEndsBeforeItStarts(t *testing.T) {
	s := DefaultSettings()
	from, to, lax := "22:00", "08:00", "lax"
	if err := s.Apply(SettingsPatch{CallWindowFrom: &from, CallWindowTo: &to, Discipline: &lax}); !slices.Equal(fieldsOf(err), []string{"discipline", "call_window"}) {
		t.Fatalf("%v", err)
	}
	if !reflect.DeepEqual(s, DefaultSettings()) {
		t.Fatal("a refused change changed the settings")
	}
	bad := []string{"demo", "call", "Demo!", "demo"}
	if err := s.Apply(SettingsPatch{Kinds: &bad}); !slices.Equal(fieldsOf(err), []string{"kinds/1", "kinds/2", "kinds/3"}) {
		t.Fatalf("bad kinds: %v", err)
	}
	kinds := []string{"demo", "delivery"}
	if err := s.Apply(SettingsPatch{Kinds: &kinds}); err != nil || !slices.Equal(s.Kinds, kinds) {
		t.Fatalf("%+v %v", s, err)
	}
	warn, days := DisciplineWarn, 30
	if err := s.Apply(SettingsPatch{Discipline: &warn, RepeatSaleDays: &days}); err != nil || s.Discipline != warn || s.RepeatSaleDays != 30 {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestRussianHolidaysMoveOffTheWeekend(t *testing.T) {
	days := RussianHolidays(2027)
	for _, want := range []string{"2027-01-01", "2027-01-08", "2027-02-23", "2027-03-08", "2027-05-01", "2027-05-03", "2027-05-09", "2027-05-10",
		"2027-06-12", "2027-06-14", "2027-11-04"} {
		if !slices.Contains(days, want) {
			t.Errorf("2027 lacks %s: %v", want, days)
		}
	}
	if slices.Contains(days, "2027-01-09") || !slices.IsSorted(days) {
		t.Errorf("2027: %v", days)
	}
	cal := DefaultCalendar("ru-RU", "", 2027, time.Now())
	if cal.Spec().TimeZone != "Europe/Moscow" || cal.UserID() != "" || cal.CheckDelete() != ErrDefaultCalendar {
		t.Fatalf("a Russian tenant's default: %+v", cal.Spec())
	}
	if en := DefaultCalendar("en", "", 2027, time.Now()); en.Spec().TimeZone != "UTC" || len(en.Spec().Holidays) != 0 {
		t.Fatalf("an English tenant's default: %+v", en.Spec())
	}
}

func TestACalendarDocumentRoundTrips(t *testing.T) {
	doc := CalendarDoc{TimeZone: "Asia/Vladivostok", Week: map[string][]SpanDoc{"monday": {{"09:00", "13:00"}, {"14:00", "18:00"}}},
		Holidays: []string{"2027-01-07"}, Workdays: map[string][]SpanDoc{"2027-11-06": {{"10:00", "15:00"}}}}
	spec, err := doc.Spec()
	if err != nil {
		t.Fatal(err)
	}
	back := DocOf(spec)
	if len(back.Week) != 7 || len(back.Week["monday"]) != 2 || back.Week["monday"][1] != (SpanDoc{"14:00", "18:00"}) ||
		back.Workdays["2027-11-06"][0] != (SpanDoc{"10:00", "15:00"}) || back.Holidays[0] != "2027-01-07" || len(back.Week["sunday"]) != 0 {
		t.Fatalf("%+v", back)
	}
}
