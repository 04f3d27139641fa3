package access_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/auth"
)

func TestViewerOfFollowsTheRoles(t *testing.T) {
	for _, tc := range []struct {
		role          string
		all, teamWide bool
	}{
		{auth.RoleAdmin, true, false}, {auth.RoleAnalyst, true, false},
		{auth.RoleManager, false, true}, {auth.RoleViewer, false, true},
		{auth.RoleRep, false, false},
	} {
		have := access.ViewerOf("u", "t", []string{tc.role})
		want := access.Viewer{All: tc.all, TeamWide: tc.teamWide, UserID: "u", Team: "t"}
		if have != want {
			t.Errorf("%s: have %+v, want %+v", tc.role, have, want)
		}
	}
}

func TestSees(t *testing.T) {
	viewer := func(role, user, team string) access.Viewer {
		return access.ViewerOf(user, team, []string{role})
	}
	ann := access.Record{Owner: "ann", Team: "team-1"}
	for _, tc := range []struct {
		name   string
		viewer access.Viewer
		record access.Record
		want   bool
	}{
		{"the owner", viewer(auth.RoleRep, "ann", "team-1"), ann, true},
		{"a rep of the same team", viewer(auth.RoleRep, "bob", "team-1"), ann, false},
		{"a rep of another team", viewer(auth.RoleRep, "carl", "team-2"), ann, false},
		{"a manager of the team", viewer(auth.RoleManager, "mia", "team-1"), ann, true},
		{"a viewer of the team", viewer(auth.RoleViewer, "val", "team-1"), ann, true},
		{"a manager of another team", viewer(auth.RoleManager, "max", "team-2"), ann, false},
		{"an admin", viewer(auth.RoleAdmin, "root", ""), ann, true},
		{"an analyst", viewer(auth.RoleAnalyst, "ada", "team-9"), ann, true},
		{"a user it is shared with", viewer(auth.RoleRep, "carl", "team-2"),
			access.Record{Owner: "ann", Team: "team-1", SharedUsers: []string{"carl"}}, true},
		{"a member of a team it is shared with", viewer(auth.RoleRep, "carl", "team-2"),
			access.Record{Owner: "ann", Team: "team-1", SharedTeams: []string{"team-2"}}, true},
		{"a manager without a team and a record without one", viewer(auth.RoleManager, "mia", ""),
			access.Record{Owner: "ann"}, false},
		{"a viewer without a team and a share with no team", viewer(auth.RoleRep, "carl", ""),
			access.Record{Owner: "ann", SharedTeams: []string{""}}, false},
		{"a token without a user and a record without an owner", viewer(auth.RoleRep, "", "team-2"),
			access.Record{SharedUsers: []string{""}}, false},
		{"a record for everyone", viewer(auth.RoleRep, "carl", "team-2"), access.Record{Owner: "ann", Everyone: true}, true},
	} {
		if have := tc.viewer.Sees(tc.record); have != tc.want {
			t.Errorf("%s: have %v, want %v", tc.name, have, tc.want)
		}
	}
}
