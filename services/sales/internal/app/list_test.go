package app_test

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// knownParty returns the id of a contact ("contact") or company ("company")
// a deal may name. Where sales keeps a projection of the contacts service's
// records, the record is announced as the contacts service would, and awaited
// there; without one, any id will do.
func (h *harness) knownParty(t *testing.T, tenant uuid.UUID, kind string) string {
	t.Helper()
	if kind == "company" {
		return h.company(tenant, "Test company").String()
	}
	return h.contact(tenant, "Test", kind).String()
}

// listPage is one page of GET /v1/deals: the deals' titles and ids, and the cursor.
type listPage struct {
	titles, ids []string
	next        string
}

func (h *harness) listDeals(t *testing.T, tok, query string) listPage {
	t.Helper()
	r := h.do("GET", "/v1/deals?"+query, tok, nil).Want(t, 200)
	var p listPage
	for _, it := range r.Body["items"].([]any) {
		d := it.(map[string]any)
		p.titles = append(p.titles, d["title"].(string))
		p.ids = append(p.ids, d["id"].(string))
	}
	next, ok := r.Body["next_cursor"]
	if ok {
		p.next, _ = next.(string)
		if p.next == "" {
			t.Errorf("next_cursor %v: present but no cursor", next)
		}
	}
	return p
}

// listFixture is tenant B with seven deals spread over two pipelines.
type listFixture struct {
	admin              string
	main, partners     string
	st                 []string
	contact1, contact2 string
	company1           string
	all                []string // titles, in creation order
}

func newListFixture(t *testing.T, h *harness) listFixture {
	t.Helper()
	f := listFixture{admin: h.token(h.tenantB, auth.RoleAdmin)}
	pl := h.pipeline(f.admin)
	f.main, f.st = pl["id"].(string), stageIDs(pl)
	f.partners = h.do("POST", "/v1/pipelines", f.admin, map[string]any{"name": "Partners", "stages": []any{
		map[string]any{"name": "Lead"}, map[string]any{"name": "Signed", "kind": "won"}, map[string]any{"name": "Dropped", "kind": "lost"},
	}}).Want(t, 201).Str("id")
	f.contact1, f.contact2 = h.knownParty(t, h.tenantB, "contact"), h.knownParty(t, h.tenantB, "contact")
	f.company1 = h.knownParty(t, h.tenantB, "company")
	create := func(body map[string]any) string {
		t.Helper()
		f.all = append(f.all, body["title"].(string))
		return h.do("POST", "/v1/deals", f.admin, body).Want(t, 201).Str("id")
	}
	create(map[string]any{"title": "Alpha", "amount": 100, "contact_id": f.contact1, "company_id": f.company1, "tags": []string{"fleet"},
		"expected_close_date": "2026-01-15", "owner_id": "rep-x"})
	create(map[string]any{"title": "Bravo", "amount": 500, "contact_id": f.contact2, "tags": []string{"Fleet", "vip"},
		"expected_close_date": "2026-03-01", "stage_id": f.st[1]})
	create(map[string]any{"title": "Charlie", "amount": 1000, "company_id": f.company1, "expected_close_date": "2026-06-30", "owner_id": "rep-y"})
	create(map[string]any{"title": "Delta", "tags": []string{"vip"}})
	echo := create(map[string]any{"title": "Echo", "amount": 2000, "contact_id": f.contact1, "pipeline_id": f.partners})
	foxtrot := create(map[string]any{"title": "Foxtrot", "amount": 300})
	create(map[string]any{"title": "Golf", "amount": 0, "stage_id": f.st[1], "expected_close_date": "2026-12-31"})
	h.do("POST", "/v1/deals/"+echo+"/win", f.admin, nil).Want(t, 200)
	reason := h.do("GET", "/v1/loss-reasons", f.admin, nil).Want(t, 200).Body["items"].([]any)[0].(map[string]any)["id"]
	h.do("POST", "/v1/deals/"+foxtrot+"/lose", f.admin, map[string]any{"reason_id": reason}).Want(t, 200)
	return f
}

func TestDealListFilters(t *testing.T) {
	h := start(t)
	f := newListFixture(t, h)
	q := url.QueryEscape
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", f.all},
		{"pipeline_id=" + f.partners, []string{"Echo"}},
		{"pipeline_id=" + f.main, []string{"Alpha", "Bravo", "Charlie", "Delta", "Foxtrot", "Golf"}},
		{"pipeline_id=" + uuid.NewString(), nil},
		{"stage_id=" + f.st[1], []string{"Bravo", "Golf"}},
		{"stage_id=" + f.st[5], []string{"Foxtrot"}},
		{"owner_id=rep-x", []string{"Alpha"}},
		{"owner_id=admin-user", []string{"Bravo", "Delta", "Echo", "Foxtrot", "Golf"}},
		{"owner_id=nobody", nil},
		{"contact_id=" + f.contact1, []string{"Alpha", "Echo"}},
		{"contact_id=" + f.contact2, []string{"Bravo"}},
		{"company_id=" + f.company1, []string{"Alpha", "Charlie"}},
		{"tag=fleet", []string{"Alpha", "Bravo"}},
		{"tag=VIP", []string{"Bravo", "Delta"}},
		{"tag=" + q(" vip "), []string{"Bravo", "Delta"}},
		{"tag=none", nil},
		{"status=open", []string{"Alpha", "Bravo", "Charlie", "Delta", "Golf"}},
		{"status=won", []string{"Echo"}},
		{"status=lost", []string{"Foxtrot"}},
		{"amount_min=300", []string{"Bravo", "Charlie", "Echo", "Foxtrot"}},
		{"amount_max=300", []string{"Alpha", "Foxtrot", "Golf"}},
		{"amount_min=0", []string{"Alpha", "Bravo", "Charlie", "Echo", "Foxtrot", "Golf"}},
		{"amount_min=300&amount_max=1000", []string{"Bravo", "Charlie", "Foxtrot"}},
		{"amount_min=1001&amount_max=1999", nil},
		{"close_from=2026-03-01", []string{"Bravo", "Charlie", "Golf"}},
		{"close_to=2026-03-01", []string{"Alpha", "Bravo"}},
		{"close_from=2026-02-01&close_to=2026-06-30", []string{"Bravo", "Charlie"}},
		{"tag=fleet&amount_min=200", []string{"Bravo"}},
		{"status=open&stage_id=" + f.st[0] + "&owner_id=admin-user", []string{"Delta"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p := h.listDeals(t, f.admin, tc.query)
			if !slices.Equal(p.titles, tc.want) || p.next != "" {
				t.Errorf("have %q (next %q), want %q", p.titles, p.next, tc.want)
			}
		})
	}
}

func TestDealListPagesWithACursor(t *testing.T) {
	h := start(t)
	f := newListFixture(t, h)
	// pages reads every page of query with limit, checking the pages' sizes.
	pages := func(t *testing.T, query string, limit int, sizes ...int) []string {
		t.Helper()
		var titles []string
		cursor := ""
		for i := 0; ; i++ {
			qs := query + "&limit=" + strconv.Itoa(limit)
			if cursor != "" {
				qs += "&cursor=" + url.QueryEscape(cursor)
			}
			p := h.listDeals(t, f.admin, qs)
			if i >= len(sizes) || len(p.titles) != sizes[i] {
				t.Fatalf("page %d of %q: %q (next %q), want pages of %v", i, query, p.titles, p.next, sizes)
			}
			titles = append(titles, p.titles...)
			if p.next == "" {
				if i != len(sizes)-1 {
					t.Fatalf("%q ended after page %d, want %d pages", query, i, len(sizes))
				}
				return titles
			}
			cursor = p.next
		}
	}
	for _, tc := range []struct {
		name  string
		query string
		limit int
		sizes []int
		want  []string
	}{
		{"all, by threes", "", 3, []int{3, 3, 1}, f.all},
		{"all, by ones", "", 1, []int{1, 1, 1, 1, 1, 1, 1}, f.all},
		{"all on one exact page", "", 7, []int{7}, f.all},
		{"all on one large page", "", 200, []int{7}, f.all},
		{"open, by twos", "status=open", 2, []int{2, 2, 1}, []string{"Alpha", "Bravo", "Charlie", "Delta", "Golf"}},
		{"main pipeline, by threes (exact)", "pipeline_id=" + f.main, 3, []int{3, 3}, []string{"Alpha", "Bravo", "Charlie", "Delta", "Foxtrot", "Golf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pages(t, tc.query, tc.limit, tc.sizes...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("pages hold %q, want each of %q once, in creation order", got, tc.want)
			}
		})
	}
	// The default page holds them all, with no cursor.
	if p := h.listDeals(t, f.admin, ""); len(p.ids) != 7 || p.next != "" {
		t.Errorf("default page %q next %q", p.titles, p.next)
	}
}

func TestDealListRefusesBadFiltersAndCursors(t *testing.T) {
	h := start(t)
	f := newListFixture(t, h)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		query  string
		fields []string
	}{
		{"pipeline_id=nope", []string{"pipeline_id"}},
		{"stage_id=123", []string{"stage_id"}},
		{"contact_id=x", []string{"contact_id"}},
		{"company_id=" + f.company1 + "0", []string{"company_id"}},
		{"status=closed", []string{"status"}},
		{"status=OPEN", []string{"status"}},
		{"amount_min=-1", []string{"amount_min"}},
		{"amount_min=1.5", []string{"amount_min"}},
		{"amount_max=abc", []string{"amount_max"}},
		{"close_from=2026-13-01", []string{"close_from"}},
		{"close_to=31.12.2026", []string{"close_to"}},
		{"limit=0", []string{"limit"}},
		{"limit=201", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"status=maybe&amount_max=-5&close_to=tomorrow", []string{"status", "amount_max", "close_to"}},
		{"cursor=" + url.QueryEscape("not a cursor!"), []string{"cursor"}},
		{"cursor=" + b64([]byte(`{"a":"nope"}`)), []string{"cursor"}},
		{"cursor=" + b64([]byte(`{"after":"`+uuid.NewString()+`"}`)), []string{"cursor"}},
		{"cursor=" + b64([]byte(`["`+uuid.NewString()+`"]`)), []string{"cursor"}},
		{"cursor=" + b64([]byte(`{"a":"`+uuid.NewString()+`"}{}`)), []string{"cursor"}},
		{"cursor=" + b64([]byte(`{"a":`)), []string{"cursor"}},
		// Unknown names are no filter at all, and a filter counts once.
		{"sort=bogus", []string{"sort"}},
		{"Status=open", []string{"Status"}},
		{"statuss=open&contact=" + f.contact1, []string{"statuss", "contact"}},
		{"status=open&status=won", []string{"status"}},
		{"bogus=1&status=maybe", []string{"bogus", "status"}},
		{"limit=0&bogus=1", []string{"limit", "bogus"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := h.do("GET", "/v1/deals?"+tc.query, f.admin, nil).Want(t, 422)
			got := r.FieldPaths()
			slices.Sort(got)
			want := slices.Clone(tc.fields)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("fields %v, want %v: %s", r.FieldPaths(), tc.fields, r.Raw)
			}
		})
	}
}
