package access_test

import (
	"errors"
	"testing"

	"github.com/rapportcrm/rapport/pkg/access"
)

func TestWhoWritesAndWhoConfigures(t *testing.T) {
	for _, tc := range []struct {
		roles                []string
		writes, configures   bool
		strongest            string
		seesAll, seesTeamAll bool
	}{
		{nil, false, false, "", false, false},
		{[]string{"viewer"}, false, false, "", false, true},
		{[]string{"analyst"}, false, false, "", true, false},
		{[]string{"rep"}, true, false, "rep", false, false},
		{[]string{"rep", "manager"}, true, true, "manager", false, true},
		{[]string{"viewer", "admin"}, true, true, "admin", true, true},
		{[]string{"Admin"}, false, false, "", false, false}, // role names are exact
	} {
		if have := access.Writes(tc.roles); have != tc.writes {
			t.Errorf("Writes(%v) = %v", tc.roles, have)
		}
		if have := access.Configures(tc.roles); have != tc.configures {
			t.Errorf("Configures(%v) = %v", tc.roles, have)
		}
		if have := access.StrongestWriter(tc.roles); have != tc.strongest {
			t.Errorf("StrongestWriter(%v) = %q", tc.roles, have)
		}
		v := access.ViewerOf("u", "t", tc.roles)
		if v.All != tc.seesAll || v.TeamWide != tc.seesTeamAll {
			t.Errorf("ViewerOf(%v) = %+v", tc.roles, v)
		}
		// A job kept with the strongest writing role sees what its user saw.
		if s := tc.strongest; s != "" {
			if kept := access.ViewerOf("u", "t", []string{s}); kept.All != v.All || (!v.All && kept.TeamWide != v.TeamWide) {
				t.Errorf("ViewerOf(%q) = %+v, the user saw %+v", s, kept, v)
			}
		}
	}
}

func TestIfMatchCheck(t *testing.T) {
	m, err := access.ParseIfMatch([]string{`"3", "5"`})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(5); err != nil {
		t.Fatalf("version 5 is listed: %v", err)
	}
	if err := m.Check(4); !errors.Is(err, access.ErrVersionMismatch) {
		t.Fatalf("version 4 is not listed: %v", err)
	}
	if err := (access.IfMatch{}).Check(4); err != nil {
		t.Fatalf("no condition holds for any version: %v", err)
	}
}
