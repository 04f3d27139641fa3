package tenancy_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// family is a directory of two trees: root R (admins: alice) with children C
// and S and grandchild G (under C), a suspended child X of R; and a suspended
// root Z with a child Y.
type family struct {
	dir                         *tenancy.Directory
	r, c, g, s, x, z, y, nobody uuid.UUID
}

func newFamily(t *testing.T) family {
	t.Helper()
	f := family{dir: tenancy.NewDirectory(), r: uuid.New(), c: uuid.New(), g: uuid.New(), s: uuid.New(),
		x: uuid.New(), z: uuid.New(), y: uuid.New(), nobody: uuid.New()}
	put := func(id uuid.UUID, suspended bool, admins []string, chain ...uuid.UUID) {
		rec := &tenancyv1.TenantRecord{Id: id.String(), Name: id.String()[:8], Generation: 1, Suspended: suspended, Admins: admins}
		for _, a := range chain {
			rec.ParentChain = append(rec.ParentChain, a.String())
		}
		if len(chain) > 0 {
			rec.ParentId = chain[0].String()
		}
		if err := f.dir.PutRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	put(f.r, false, []string{"alice"})
	put(f.c, false, nil, f.r)
	put(f.g, false, nil, f.c, f.r)
	put(f.s, false, nil, f.r)
	put(f.x, true, nil, f.r)
	put(f.z, true, []string{"zed"})
	put(f.y, false, nil, f.z)
	return f
}

// seen is what the handler behind Middleware was given.
type seen struct {
	principal auth.Principal
	tenant    tenancy.Tenant
	logTenant string
}

// serve runs one request by p (as auth.Middleware would have verified it)
// through Directory.Middleware, with the Rapport-Tenant header values.
func serve(t *testing.T, dir *tenancy.Directory, p auth.Principal, method string, header ...string) (*httptest.ResponseRecorder, *seen) {
	t.Helper()
	var got *seen
	h := dir.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := auth.PrincipalFrom(r.Context())
		tn, _ := tenancy.TenantFrom(r.Context())
		got = &seen{principal: q, tenant: tn, logTenant: telemetry.TenantID(r.Context())}
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest(method, "/v1/contacts", nil)
	ctx := telemetry.WithTenantID(auth.WithPrincipal(req.Context(), p), p.TenantID.String())
	req = req.WithContext(ctx)
	for _, v := range header {
		req.Header.Add(tenancy.HeaderTenant, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w, got
}

func TestDescendantReads(t *testing.T) {
	f := newFamily(t)
	alice := auth.Principal{TenantID: f.r, UserID: "alice", Roles: []string{auth.RoleRep}, Team: "hq"} // admin by R's record
	rootAdmin := auth.Principal{TenantID: f.r, UserID: "root", Roles: []string{auth.RoleAdmin}, Team: "hq"}
	bob := auth.Principal{TenantID: f.r, UserID: "bob", Roles: []string{auth.RoleRep, auth.RoleManager, auth.RoleAnalyst}, Team: "hq"}
	carol := auth.Principal{TenantID: f.c, UserID: "carol", Roles: []string{auth.RoleAdmin}}
	sam := auth.Principal{TenantID: f.s, UserID: "sam", Roles: []string{auth.RoleAdmin}}
	gina := auth.Principal{TenantID: f.g, UserID: "alice", Roles: []string{auth.RoleAdmin}}
	zed := auth.Principal{TenantID: f.z, UserID: "zed", Roles: []string{auth.RoleAdmin}}

	for _, tc := range []struct {
		name     string
		who      auth.Principal
		method   string
		header   []string
		want     int
		wantSlug string    // of a refusal
		wantAs   uuid.UUID // the tenant served; uuid.Nil: the caller's own, unchanged
	}{
		{"no header", alice, http.MethodPost, nil, http.StatusNoContent, "", uuid.Nil},
		{"own tenant named: no change, writes too", rootAdmin, http.MethodPost, []string{f.r.String()}, http.StatusNoContent, "", uuid.Nil},
		{"R admin by record reads child C", alice, http.MethodGet, []string{f.c.String()}, http.StatusNoContent, "", f.c},
		{"R admin by role reads child C", rootAdmin, http.MethodHead, []string{f.c.String()}, http.StatusNoContent, "", f.c},
		{"R admin reads grandchild G", alice, http.MethodGet, []string{f.g.String()}, http.StatusNoContent, "", f.g},
		{"R admin reads S, upper-case id", rootAdmin, http.MethodGet, []string{strings.ToUpper(f.s.String())}, http.StatusNoContent, "", f.s},
		{"C admin reads child G", carol, http.MethodGet, []string{f.g.String()}, http.StatusNoContent, "", f.g},
		{"C admin reads parent R", carol, http.MethodGet, []string{f.r.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"G admin named alice reads root R", gina, http.MethodGet, []string{f.r.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"R non-admin (rep, manager, analyst) reads C", bob, http.MethodGet, []string{f.c.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"sibling S admin reads C", sam, http.MethodGet, []string{f.c.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"C admin reads sibling S", carol, http.MethodGet, []string{f.s.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"unknown tenant", rootAdmin, http.MethodGet, []string{f.nobody.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"R admin writes into C", alice, http.MethodPost, []string{f.c.String()}, http.StatusForbidden, "descendant-read-only", uuid.Nil},
		{"R admin deletes in G", rootAdmin, http.MethodDelete, []string{f.g.String()}, http.StatusForbidden, "descendant-read-only", uuid.Nil},
		{"R non-admin writes into C", bob, http.MethodPatch, []string{f.c.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"sibling S admin writes into C", sam, http.MethodPost, []string{f.c.String()}, http.StatusNotFound, "tenant-not-found", uuid.Nil},
		{"garbled header", rootAdmin, http.MethodGet, []string{"hq"}, http.StatusBadRequest, "bad-tenant-header", uuid.Nil},
		{"empty header", rootAdmin, http.MethodGet, []string{""}, http.StatusBadRequest, "bad-tenant-header", uuid.Nil},
		{"two tenants named", rootAdmin, http.MethodGet, []string{f.c.String(), f.g.String()}, http.StatusBadRequest, "bad-tenant-header", uuid.Nil},
		{"suspended child X", rootAdmin, http.MethodGet, []string{f.x.String()}, http.StatusForbidden, "tenant-suspended", uuid.Nil},
		{"suspended root Z reads its child", zed, http.MethodGet, []string{f.y.String()}, http.StatusForbidden, "tenant-suspended", uuid.Nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, got := serve(t, f.dir, tc.who, tc.method, tc.header...)
			if w.Code != tc.want {
				t.Fatalf("have status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.wantSlug != "" {
				if got != nil {
					t.Fatal("a refused request reached the handler")
				}
				var p httpkit.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type != httpkit.ProblemType(tc.wantSlug) {
					t.Fatalf("want problem %q, have %s (%v)", tc.wantSlug, w.Body, err)
				}
				return
			}
			want := tc.who
			if tc.wantAs != uuid.Nil {
				want = auth.Principal{TenantID: tc.wantAs, UserID: tc.who.UserID, Roles: []string{tenancy.DescendantRole}}
			}
			if have := got.principal; have.TenantID != want.TenantID || have.UserID != want.UserID || have.Team != want.Team ||
				!slices.Equal(have.Roles, want.Roles) {
				t.Fatalf("have principal %+v, want %+v", have, want)
			}
			if got.tenant.ID != want.TenantID || got.logTenant != want.TenantID.String() {
				t.Fatalf("admitted tenant %s, logged as %q; want %s", got.tenant.ID, got.logTenant, want.TenantID)
			}
		})
	}
}

// Every refusal but the write one answers the same 404: unknown, sibling,
// parent and non-admin are indistinguishable, as any other tenant's object.
func TestDescendantRefusalsLookAlike(t *testing.T) {
	f := newFamily(t)
	rootAdmin := auth.Principal{TenantID: f.r, UserID: "root", Roles: []string{auth.RoleAdmin}}
	bob := auth.Principal{TenantID: f.r, UserID: "bob", Roles: []string{auth.RoleRep}}
	carol := auth.Principal{TenantID: f.c, UserID: "carol", Roles: []string{auth.RoleAdmin}}
	sam := auth.Principal{TenantID: f.s, UserID: "sam", Roles: []string{auth.RoleAdmin}}
	unknown, _ := serve(t, f.dir, rootAdmin, http.MethodGet, f.nobody.String())
	for name, w := range map[string]*httptest.ResponseRecorder{
		"non-admin": first(serve(t, f.dir, bob, http.MethodGet, f.c.String())),
		"sibling":   first(serve(t, f.dir, sam, http.MethodGet, f.c.String())),
		"parent":    first(serve(t, f.dir, carol, http.MethodGet, f.r.String())),
	} {
		if w.Code != unknown.Code || w.Body.String() != unknown.Body.String() {
			t.Errorf("%s: have %d %s, an unknown tenant %d %s", name, w.Code, w.Body, unknown.Code, unknown.Body)
		}
	}
}

func first(w *httptest.ResponseRecorder, _ *seen) *httptest.ResponseRecorder { return w }

// An admin's departments are every active tenant below theirs; nobody
// else has any.
func TestDepartments(t *testing.T) {
	f := newFamily(t)
	ids := func(ts []tenancy.Tenant) []uuid.UUID {
		var out []uuid.UUID
		for _, t := range ts {
			out = append(out, t.ID)
		}
		slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		return out
	}
	want := []uuid.UUID{f.c, f.g, f.s}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	for _, tc := range []struct {
		name string
		p    auth.Principal
		want []uuid.UUID
	}{
		{"an admin by role", auth.Principal{TenantID: f.r, UserID: "bob", Roles: []string{auth.RoleAdmin}}, want},
		{"an admin by the record", auth.Principal{TenantID: f.r, UserID: "alice", Roles: []string{auth.RoleRep}}, want},
		{"a manager", auth.Principal{TenantID: f.r, UserID: "bob", Roles: []string{auth.RoleManager}}, nil},
		{"a department's admin sees below it only", auth.Principal{TenantID: f.c, UserID: "carl", Roles: []string{auth.RoleAdmin}}, []uuid.UUID{f.g}},
		{"an unknown tenant", auth.Principal{TenantID: f.nobody, Roles: []string{auth.RoleAdmin}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if have := ids(f.dir.Departments(tc.p)); !slices.Equal(have, tc.want) {
				t.Fatalf("have %v, want %v", have, tc.want)
			}
		})
	}
}
