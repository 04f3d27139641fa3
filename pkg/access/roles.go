package access

import "slices"

// Roles a user can hold, as tokens name them (DESIGN.md §5).
const (
	RoleAdmin   = "admin"
	RoleManager = "manager"
	RoleRep     = "rep"
	RoleAnalyst = "analyst"
	RoleViewer  = "viewer"
)

// Writers are the roles that may change records, strongest first;
// analysts and viewers only read.
var Writers = []string{RoleAdmin, RoleManager, RoleRep}

// Writes reports whether a user holding roles may change records.
func Writes(roles []string) bool { return StrongestWriter(roles) != "" }

// Configures reports whether a user holding roles may change the tenant's
// setup (pipelines, fields, rates): admins and managers.
func Configures(roles []string) bool {
	return slices.Contains(roles, RoleAdmin) || slices.Contains(roles, RoleManager)
}

// StrongestWriter is the strongest of roles that may write, or "" when none
// may. A job that runs later on a user's behalf keeps it, and ViewerOf of
// that one role sees what the user saw.
func StrongestWriter(roles []string) string {
	for _, r := range Writers {
		if slices.Contains(roles, r) {
			return r
		}
	}
	return ""
}
