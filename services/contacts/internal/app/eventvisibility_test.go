package app_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// A contact's events say who sees it, so another service (sales) can hold
// a write that names the contact to the same rule as a read here.
func TestContactEventsSayWhoSeesTheContact(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleRep)
	r := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Анна",
		"shared_with": map[string]any{"users": []string{"carl"}, "teams": []string{"team-2"}}}).Want(t, http.StatusCreated)
	id := r.Body["id"].(string)
	var created contactsv1.ContactCreated
	if err := readEvent(t, h.brokers, id).Unmarshal(&created); err != nil {
		t.Fatal(err)
	}
	c := created.GetContact()
	if c.Team == nil || c.GetTeam() != "team-1" || c.GetOwnerId() != "rep-user" ||
		!slices.Equal(c.GetSharedWithUsers(), []string{"carl"}) || !slices.Equal(c.GetSharedWithTeams(), []string{"team-2"}) {
		t.Fatalf("created: team %v owner %q shares %v %v", c.Team, c.GetOwnerId(), c.GetSharedWithUsers(), c.GetSharedWithTeams())
	}
	// A contact of no team says so: team is present and empty.
	h.do("PATCH", "/v1/contacts/"+id, tok, map[string]any{"team": "", "shared_with": map[string]any{"users": []string{}, "teams": []string{}}}).
		Want(t, http.StatusOK)
	var updated contactsv1.ContactUpdated
	if err := readEventOfType(t, h.brokers, id, "crm.contact.updated").Unmarshal(&updated); err != nil {
		t.Fatal(err)
	}
	u := updated.GetContact()
	if u.Team == nil || u.GetTeam() != "" || len(u.GetSharedWithUsers())+len(u.GetSharedWithTeams()) != 0 {
		t.Fatalf("updated: team %v shares %v %v", u.Team, u.GetSharedWithUsers(), u.GetSharedWithTeams())
	}
}
