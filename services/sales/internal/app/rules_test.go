package app_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/auth"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
)

// A deal's team (whose managers see it) is its owner's: the creator's when
// they own it, the one given, or none — never the creator's for someone
// else's deal, and never the old owner's after a hand-over.
func TestADealsTeamFollowsItsOwner(t *testing.T) {
	h := start(t)
	creator := h.userToken(h.tenantA, "ann", auth.RoleManager, "team-1")
	otherManager1 := h.userToken(h.tenantA, "max", auth.RoleManager, "team-1")
	manager2 := h.userToken(h.tenantA, "kim", auth.RoleManager, "team-2")

	own := h.do("POST", "/v1/deals", creator, map[string]any{"title": "mine"}).Want(t, 201)
	if own.Str("team") != "team-1" {
		t.Errorf("own deal's team %q", own.Str("team"))
	}
	h.do("GET", "/v1/deals/"+own.Str("id"), otherManager1, nil).Want(t, 200)

	bobs := h.do("POST", "/v1/deals", creator, map[string]any{"title": "bob's", "owner_id": "bob"}).Want(t, 201)
	if bobs.Str("team") != "" {
		t.Errorf("someone else's deal got the creator's team %q", bobs.Str("team"))
	}
	h.do("GET", "/v1/deals/"+bobs.Str("id"), otherManager1, nil).Want(t, 404)
	h.do("PATCH", "/v1/deals/"+bobs.Str("id"), creator, map[string]any{"team": "team-2"}).Want(t, 404) // not theirs any more
	h.do("GET", "/v1/deals/"+bobs.Str("id"), manager2, nil).Want(t, 404)

	given := h.do("POST", "/v1/deals", creator, map[string]any{"title": "kim's", "owner_id": "kim", "team": "team-2"}).Want(t, 201)
	h.do("GET", "/v1/deals/"+given.Str("id"), manager2, nil).Want(t, 200)
	// Handed over to someone else without a team: team-2 no longer sees it.
	h.do("PATCH", "/v1/deals/"+given.Str("id"), manager2, map[string]any{"owner_id": "lee"}).Want(t, 200)
	h.do("GET", "/v1/deals/"+given.Str("id"), manager2, nil).Want(t, 404)
	if n := h.query(h.tenantA, "select count(*) from deals where owner_id = 'lee' and team = ''"); n != 1 {
		t.Errorf("handed-over deal kept the old team")
	}
}

func TestAMergedContactStaysMergedWhenALateUpdateArrives(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	target, source := h.contact(h.tenantA, "Анна", "Иванова"), h.contact(h.tenantA, "Аня", "Иванова")
	h.contactEvent(h.tenantA, "crm.contact.merged", target.String(), &contactsv1.ContactMerged{TenantId: h.tenantA.String(),
		TargetId: target.String(), MergedIds: []string{source.String()}, MergedAt: timestamppb.Now(),
		Target: repsContact(target, "Анна", "Иванова", 2)})
	eventually(t, "merged", func() bool {
		return h.query(h.tenantA, "select count(*) from contacts where id = $1 and merged_into = $2", source, target) == 1
	})
	// The source's update, published before the merge under its own key,
	// arrives after it.
	h.contactEvent(h.tenantA, "crm.contact.updated", source.String(), &contactsv1.ContactUpdated{Contact: &contactsv1.Contact{
		Id: source.String(), FirstName: "Аня", LastName: "Иванова", Version: 2}})
	eventually(t, "update applied", func() bool {
		return h.query(h.tenantA, "select count(*) from contacts where id = $1 and version = 2", source) == 1
	})
	r := h.do("POST", "/v1/deals", rep, map[string]any{"title": "x", "contact_id": source}).Want(t, 422)
	if !strings.Contains(string(r.Raw), target.String()) {
		t.Errorf("refusal does not name the surviving contact: %s", r.Raw)
	}
}

func TestReopeningKeepsTheStagesRequirements(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	st := stageIDs(h.pipeline(rep)) // Invoice sent (3) requires an amount
	id := h.newDeal(t, rep, map[string]any{"title": "x", "amount": 100})
	h.do("POST", "/v1/deals/"+id+"/move", rep, map[string]any{"stage_id": st[3]}).Want(t, 200)
	reason := h.do("GET", "/v1/loss-reasons", rep, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)["id"]
	h.do("POST", "/v1/deals/"+id+"/lose", rep, map[string]any{"reason_id": reason}).Want(t, 200)
	h.do("PATCH", "/v1/deals/"+id, rep, map[string]any{"amount": nil}).Want(t, 200) // a lost deal's stage requires nothing
	r := h.do("POST", "/v1/deals/"+id+"/reopen", rep, nil).Want(t, 422)
	if !slices.Equal(r.FieldPaths(), []string{"amount"}) {
		t.Errorf("fields %v", r.FieldPaths())
	}
	if d := h.do("GET", "/v1/deals/"+id, rep, nil).Want(t, 200); d.Str("status") != "lost" {
		t.Errorf("refused reopen changed the deal: %s", d.Raw)
	}
	h.do("POST", "/v1/deals/"+id+"/reopen", rep, map[string]any{"stage_id": st[1]}).Want(t, 200)
}

func TestDealValuesPostgreSQLCannotStoreAreRefused(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantB, auth.RoleRep)
	for field, body := range map[string]map[string]any{
		"expected_close_date": {"title": "x", "expected_close_date": "0000-01-01"},
		"owner_id":            {"title": "x", "owner_id": strings.Repeat("ж", 5000)},
		"team":                {"title": "x", "team": strings.Repeat("ж", 5000)},
	} {
		if r := h.do("POST", "/v1/deals", rep, body).Want(t, 422); !slices.Equal(r.FieldPaths(), []string{field}) {
			t.Errorf("%s: fields %v", field, r.FieldPaths())
		}
	}
	for _, q := range []string{"close_from=0000-01-01", "close_to=10000-01-01"} {
		h.do("GET", "/v1/deals?"+q, rep, nil).Want(t, 422)
	}
	admin := h.token(h.tenantB, auth.RoleAdmin)
	h.do("POST", "/v1/currency-rates", admin, map[string]any{"currency": "EUR", "rate": "100000000000000000000"}).Want(t, 422)
}
