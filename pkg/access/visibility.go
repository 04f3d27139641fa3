package access

import "slices"

// Viewer is who reads, as visibility needs it.
type Viewer struct {
	All      bool // admins and analysts see every record
	TeamWide bool // managers and viewers see their team's records
	UserID   string
	Team     string
}

// ViewerOf is the viewer a user of team holding roles is (DESIGN.md §5):
// admins and analysts see all, managers and viewers their team, reps their
// own, and everyone what is shared with them or their team.
func ViewerOf(user, team string, roles []string) Viewer {
	has := func(role string) bool { return slices.Contains(roles, role) }
	return Viewer{UserID: user, Team: team, All: has(RoleAdmin) || has(RoleAnalyst), TeamWide: has(RoleManager) || has(RoleViewer)}
}

// Record is what visibility needs of a record: whose it is and with whom
// it is shared.
type Record struct {
	Owner       string
	Team        string
	SharedUsers []string
	SharedTeams []string
	// Everyone marks a record every user of its tenant sees (companies).
	Everyone bool
}

// Sees reports whether v may see r. An empty user id or team matches
// nothing, so a record without a team is no team's.
func (v Viewer) Sees(r Record) bool {
	switch {
	case v.All || r.Everyone:
		return true
	case v.UserID != "" && (r.Owner == v.UserID || slices.Contains(r.SharedUsers, v.UserID)):
		return true
	case v.Team != "" && v.TeamWide && r.Team == v.Team:
		return true
	}
	return v.Team != "" && slices.Contains(r.SharedTeams, v.Team)
}
