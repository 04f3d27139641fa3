package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// startSales runs the real sales service as its own program at the address
// the contacts service asks (its SALES_URL), on a database of its own and
// the same broker, and waits until it has taken both tenants.
func (h *harness) startSales() (url string, p *testenv.Program) {
	h.t.Helper()
	p = testenv.StartService(h.t, "sales", h.cfg.SalesURL.Host, h.brokers, h.issuer.PublicKeyPEM(), "CONTACTS_URL="+h.url)
	prov := tenancy.NewProvisioner(h.brokers, "/test")
	defer prov.Close()
	for _, id := range []uuid.UUID{h.tenantA, h.tenantB} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := prov.WaitAcks(ctx, id.String(), 1, []string{"sales"})
		cancel()
		if err != nil {
			h.t.Fatal(err)
		}
	}
	return h.cfg.SalesURL.String(), p
}

// An activity names only a deal its author may read, as sales judges it
// with the author's own token: another tenant's, another team's, a deleted
// and a made-up deal are all "no such deal", in the same words.
func TestActivityNamesOnlyDealsItsAuthorSees(t *testing.T) {
	h := start(t)
	sales, proc := h.startSales()
	owner := h.tokenFor(h.tenantA, "rep1", "north", auth.RoleRep)
	deal := func(tok, title string) string {
		t.Helper()
		return testenv.Call(t, "POST", sales+"/v1/deals", tok, map[string]any{"title": title}).Want(t, http.StatusCreated).Str("id")
	}
	mine := deal(owner, "Поставка")
	gone := deal(owner, "Отменённая")
	testenv.Call(t, "DELETE", sales+"/v1/deals/"+gone, owner, nil, "If-Match", `"1"`).Want(t, http.StatusNoContent)
	foreign := deal(h.token(h.tenantB, auth.RoleAdmin), "Чужая")

	log := func(tok, dealID string) testenv.Reply {
		t.Helper()
		contact := h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": "Клиент " + uuid.NewString()[:8]}).
			Want(t, http.StatusCreated).Body["id"].(string)
		return h.do("POST", "/v1/activities", tok, map[string]any{"kind": "call", "contact_id": contact, "deal_id": dealID})
	}
	r := log(owner, mine).Want(t, http.StatusCreated)
	if r.Body["deal_id"] != mine {
		t.Fatalf("have %s", r.Raw)
	}
	// The owner's manager sees the team's deals.
	log(h.tokenFor(h.tenantA, "boss", "north", auth.RoleManager), mine).Want(t, http.StatusCreated)

	var refusals []string
	for name, tc := range map[string]struct{ tok, deal string }{
		"another rep's deal":         {h.tokenFor(h.tenantA, "rep2", "north", auth.RoleRep), mine},
		"another team's manager":     {h.tokenFor(h.tenantA, "boss2", "south", auth.RoleManager), mine},
		"a deleted deal":             {owner, gone},
		"another tenant's deal":      {owner, foreign},
		"a deal that never existed":  {owner, uuid.NewString()},
		"its own deal, other tenant": {h.token(h.tenantB, auth.RoleAdmin), mine},
	} {
		r := log(tc.tok, tc.deal).Want(t, http.StatusUnprocessableEntity)
		if f := strings.Join(r.FieldPaths(), ","); f != "deal_id" {
			t.Errorf("%s: fields %s: %s", name, f, r.Raw)
		}
		refusals = append(refusals, r.Body["errors"].([]any)[0].(map[string]any)["message"].(string))
	}
	for _, m := range refusals {
		if m != "no such deal" {
			t.Errorf("refusals differ, which tells what exists: %q", refusals)
		}
	}
	if n := h.countRows(h.tenantA, "activities where deal_id is not null"); n != 2 {
		t.Fatalf("%d activities name a deal, want the 2 allowed", n)
	}

	// When sales cannot be asked, nothing is logged and the client is told
	// to try again.
	proc.Stop()
	r = log(owner, mine).Want(t, http.StatusServiceUnavailable)
	if r.Body["type"] != "https://rapport.dev/problems/sales-unavailable" {
		t.Fatalf("have %s", r.Raw)
	}
	if n := h.countRows(h.tenantA, "activities where deal_id is not null"); n != 2 {
		t.Fatalf("%d activities name a deal after sales stopped, want 2", n)
	}
}
