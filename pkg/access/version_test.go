package access_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/access"
)

func TestParseIfMatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lines   []string
		given   bool
		holds   []int64 // versions the condition admits
		refuses []int64 // versions it does not
		wantErr bool
	}{
		{name: "absent", holds: []int64{1, 7}},
		{name: "blank", lines: []string{"  "}, holds: []int64{1}},
		{name: "one strong tag", lines: []string{`"7"`}, given: true, holds: []int64{7}, refuses: []int64{1, 70}},
		{name: "spaces around", lines: []string{` "7" `}, given: true, holds: []int64{7}},
		{name: "star", lines: []string{"*"}, given: true, holds: []int64{1, 7, 1 << 40}},
		{name: "list matches any member", lines: []string{`"1", "2"`}, given: true, holds: []int64{1, 2}, refuses: []int64{3}},
		{name: "list over field lines", lines: []string{`"1"`, `"2"`}, given: true, holds: []int64{1, 2}, refuses: []int64{12}},
		{name: "empty elements ignored", lines: []string{`, "3" ,, "4",`}, given: true, holds: []int64{3, 4}},
		{name: "weak tag never matches", lines: []string{`W/"1"`}, given: true, refuses: []int64{1}},
		{name: "weak and strong", lines: []string{`W/"1", "2"`}, given: true, holds: []int64{2}, refuses: []int64{1}},
		{name: "foreign tag is valid and never matches", lines: []string{`"abc"`}, given: true, refuses: []int64{1}},
		{name: "strong comparison is byte for byte", lines: []string{`"07"`}, given: true, refuses: []int64{7}},
		{name: "zero names no version", lines: []string{`"0"`}, given: true, refuses: []int64{1}},
		{name: "comma inside a tag", lines: []string{`"1,2"`}, given: true, refuses: []int64{1, 2}},
		{name: "only commas", lines: []string{`,`}, given: true, refuses: []int64{1}},
		{name: "bare number", lines: []string{`7`}, wantErr: true},
		{name: "unclosed quote", lines: []string{`"7`}, wantErr: true},
		{name: "lower-case weak prefix", lines: []string{`w/"7"`}, wantErr: true},
		{name: "star in a list", lines: []string{`*, "7"`}, wantErr: true},
		{name: "star over field lines", lines: []string{`*`, `"7"`}, wantErr: true},
		{name: "missing comma", lines: []string{`"1" "2"`}, wantErr: true},
		{name: "space inside a tag", lines: []string{`"1 2"`}, wantErr: true},
		{name: "control byte inside a tag", lines: []string{"\"1\x01\""}, wantErr: true},
		{name: "a line break is no list whitespace", lines: []string{"\"1\"\n"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := access.ParseIfMatch(tc.lines)
			if tc.wantErr {
				if !errors.Is(err, access.ErrInvalidIfMatch) {
					t.Fatalf("want ErrInvalidIfMatch, have %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Given() != tc.given {
				t.Fatalf("want given %v, have %v", tc.given, m.Given())
			}
			for _, v := range tc.holds {
				if !m.Holds(v) {
					t.Errorf("want version %d admitted", v)
				}
			}
			for _, v := range tc.refuses {
				if m.Holds(v) {
					t.Errorf("want version %d refused", v)
				}
			}
		})
	}
}

func TestVersionAndAnyVersion(t *testing.T) {
	if m := access.Version(7); !m.Given() || !m.Holds(7) || m.Holds(8) {
		t.Fatalf("Version(7) = %+v", m)
	}
	if m := access.AnyVersion(); !m.Given() || !m.Holds(3) {
		t.Fatalf("AnyVersion() = %+v", m)
	}
	var absent access.IfMatch
	if absent.Given() || !absent.Holds(3) {
		t.Fatal("the zero IfMatch must state no condition")
	}
}

// FuzzParseIfMatch: any header either parses or is ErrInvalidIfMatch; a
// version admitted is one the header names as a strong tag; a valid list
// with one more strong tag still parses and admits that version.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{``, `*`, `"1"`, `"1", "2"`, `W/"1"`, `W/"1", "2"`, `"abc"`, `,,`, `"7`,
		`*, "1"`, `"1" "2"`, "\"\x80\xff\"", `"1,2"`, `W/`, `"`, `W/"7"`, `"9223372036854775807"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := access.ParseIfMatch([]string{s})
		if err != nil {
			if !errors.Is(err, access.ErrInvalidIfMatch) {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		if !m.Given() {
			if strings.Trim(s, " \t") != "" {
				t.Fatalf("%q: a non-blank header states no condition", s)
			}
			return
		}
		star := strings.Trim(s, " \t") == "*"
		for _, v := range []int64{1, 2, 7, 9223372036854775807} {
			if m.Holds(v) && !star && !strings.Contains(s, `"`+strconv.FormatInt(v, 10)+`"`) {
				t.Fatalf("%q admits version %d it does not name", s, v)
			}
		}
		if star {
			return
		}
		more, err := access.ParseIfMatch([]string{s + `, "42"`})
		if err != nil || !more.Holds(42) {
			t.Fatalf("%q plus a strong tag: %v", s, err)
		}
	})
}
