package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
)

// setQuota republishes a tenant's record (as start made it) with a later
// generation and a contacts quota, and waits until the service applied it.
func (h *harness) setQuota(tenant uuid.UUID, generation, contacts int64) {
	h.t.Helper()
	name, country := "t0", "RU"
	if tenant == h.tenantB {
		name, country = "t1", "US"
	}
	prov := tenancy.NewProvisioner(h.brokers, "/test")
	defer prov.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &tenancyv1.TenantRecord{Id: tenant.String(), Name: name, Generation: generation, Region: "local",
		DefaultCountry: country, Quotas: &tenancyv1.Quotas{Contacts: contacts}}
	if err := prov.Publish(ctx, rec); err != nil {
		h.t.Fatal(err)
	}
	if _, err := prov.WaitAcks(ctx, tenant.String(), generation, []string{app.Name}); err != nil {
		h.t.Fatal(err)
	}
}

// createN creates n contacts named prefix0, prefix1… and returns their ids.
func (h *harness) createN(tok, prefix string, n int) []string {
	h.t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = h.do("POST", "/v1/contacts", tok, map[string]any{"first_name": fmt.Sprintf("%s%d", prefix, i)}).
			Want(h.t, http.StatusCreated).Body["id"].(string)
	}
	return ids
}

// wantQuotaExceeded checks a refusal by the contacts quota: 403, a problem
// of type quota-exceeded, the detail, and the quota and count as members.
func wantQuotaExceeded(t *testing.T, r testenv.Reply, quota, count int, detail string) {
	t.Helper()
	r.Want(t, http.StatusForbidden)
	if r.Body["type"] != "https://rapport.dev/problems/quota-exceeded" || r.Body["title"] != "Forbidden" ||
		r.Body["status"] != float64(403) || r.Body["detail"] != detail ||
		r.Body["quota"] != float64(quota) || r.Body["count"] != float64(count) {
		t.Fatalf("want quota-exceeded (quota %d, count %d, detail %q); have %s", quota, count, detail, r.Raw)
	}
}

// countSQL runs a query of one number in tenant's scope, as the service sees it.
func (h *harness) countSQL(tenant uuid.UUID, sql string) int {
	h.t.Helper()
	return testenv.CountInTenant(h.t, h.appURL, tenant, sql)
}

// wantCounted checks the tenant's count of live contacts as the quota reads
// it, which must equal the contacts neither gone nor erased; the tenant, with
// a quota, is counted.
func (h *harness) wantCounted(t *testing.T, tenant uuid.UUID, want int) {
	t.Helper()
	counted := h.countSQL(tenant, "select coalesce(sum(live), 0)::int from contact_counts")
	live := h.countSQL(tenant, "select count(*)::int from contacts where erased_at is null")
	if counted != want || live != want {
		t.Fatalf("the quota counts %d live contacts, the table holds %d; want %d", counted, live, want)
	}
	if listed := h.countRows(tenant, "contact_counted_tenants"); listed != 1 {
		t.Fatalf("the tenant is listed %d times in contact_counted_tenants, want once", listed)
	}
}

// wantUncounted checks that a tenant without a quota is not counted (no row
// of contact_counts, not listed in contact_counted_tenants) and holds live
// contacts.
func (h *harness) wantUncounted(t *testing.T, tenant uuid.UUID, live int) {
	t.Helper()
	rows, listed := h.countRows(tenant, "contact_counts"), h.countRows(tenant, "contact_counted_tenants")
	stored := h.countSQL(tenant, "select count(*)::int from contacts where erased_at is null")
	if rows != 0 || listed != 0 || stored != live {
		t.Fatalf("a tenant without a quota has %d rows of contact_counts (want 0), is listed %d times (want 0), "+
			"holds %d live contacts (want %d)", rows, listed, stored, live)
	}
}

// countedExactly checks, in one snapshot (so while writes go on), that the
// tenant's count equals its live contacts, and returns it.
func (h *harness) countedExactly(t *testing.T, tenant uuid.UUID) int {
	t.Helper()
	var counted, live int
	if err := postgres.InTenant(context.Background(), h.pool(), tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `select (select coalesce(sum(live), 0)::int from contact_counts),
			(select count(*)::int from contacts where erased_at is null)`).Scan(&counted, &live)
	}); err != nil {
		t.Fatal(err)
	}
	if counted != live {
		t.Fatalf("the quota counts %d live contacts, the table holds %d", counted, live)
	}
	return live
}

// pool opens a pool of the app role, closed with the test.
func (h *harness) pool() *pgxpool.Pool {
	h.t.Helper()
	pool, err := postgres.Open(context.Background(), h.appURL)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(pool.Close)
	return pool
}

// A create over the quota is refused with a 403 problem and writes
// nothing; tenant B's quota and contacts are its own.
func TestContactsQuotaRefusesCreate(t *testing.T) {
	h := start(t)
	tokA, tokB := h.token(h.tenantA, auth.RoleRep), h.token(h.tenantB, auth.RoleRep)
	h.setQuota(h.tenantA, 2, 3)
	h.setQuota(h.tenantB, 2, 4)
	h.createN(tokA, "A", 3)
	r := h.do("POST", "/v1/contacts", tokA, anna)
	wantQuotaExceeded(t, r, 3, 3, "your tenant may hold at most 3 contacts; it holds 3")
	// Nothing of the refused contact stayed: no row, no channel key, no
	// timeline entry (written with its event, in its transaction).
	if n, k, tl := h.countRows(h.tenantA, "contacts"), h.countRows(h.tenantA, "contact_keys"), h.countRows(h.tenantA, "timeline"); n != 3 || k != 0 || tl != 3 {
		t.Fatalf("a refused create left %d contacts (want 3), %d channel keys (want 0), %d timeline entries (want 3)", n, k, tl)
	}
	// Tenant A, full, leaves tenant B its own 4 places, and B's quota is
	// B's: its fifth create is refused counting B's contacts only.
	h.createN(tokB, "B", 4)
	wantQuotaExceeded(t, h.do("POST", "/v1/contacts", tokB, anna), 4, 4, "your tenant may hold at most 4 contacts; it holds 4")
	h.wantCounted(t, h.tenantA, 3)
	h.wantCounted(t, h.tenantB, 4)
}

// Deleting, merging away and erasing contacts free places under the
// quota; unmerging takes them again, and is refused when none is free.
func TestContactsQuotaFreedByDeleteMergeAndErase(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	h.setQuota(h.tenantA, 2, 3)
	ids := h.createN(adm, "A", 3)
	full := func() {
		t.Helper()
		wantQuotaExceeded(t, h.do("POST", "/v1/contacts", adm, map[string]any{"first_name": "Over"}),
			3, 3, "your tenant may hold at most 3 contacts; it holds 3")
	}
	full()

	h.do("DELETE", "/v1/contacts/"+ids[0], adm, nil).Want(t, http.StatusNoContent)
	h.wantCounted(t, h.tenantA, 2)
	ids[0] = h.createN(adm, "D", 1)[0]
	full()

	h.do("POST", "/v1/contacts/"+ids[1]+"/merge", adm, map[string]any{"from": []string{ids[2]}}).Want(t, http.StatusOK)
	h.wantCounted(t, h.tenantA, 2)
	merged := ids[2]
	ids[2] = h.createN(adm, "M", 1)[0]
	full()

	// Unmerging would bring the merged contact back as a fourth.
	u := h.do("POST", "/v1/contacts/"+ids[1]+"/unmerge", adm, nil)
	wantQuotaExceeded(t, u, 3, 3, "your tenant may hold at most 3 contacts; it holds 3")
	h.do("GET", "/v1/contacts/"+merged, adm, nil).Want(t, http.StatusNotFound)
	if m := h.countRows(h.tenantA, "merges"); m != 1 {
		t.Fatalf("the refused unmerge left %d merges, want 1", m)
	}

	h.do("POST", "/v1/contacts/"+ids[2]+"/erase", adm, nil).Want(t, http.StatusOK)
	h.wantCounted(t, h.tenantA, 2)
	h.do("POST", "/v1/contacts/"+ids[1]+"/unmerge", adm, nil).Want(t, http.StatusOK)
	h.do("GET", "/v1/contacts/"+merged, adm, nil).Want(t, http.StatusOK)
	h.wantCounted(t, h.tenantA, 3)
	full()
}

// A new generation of the tenant's record that raises the quota lets the
// tenant create again; one without a quota lifts it.
func TestContactsQuotaRaisedByNewGeneration(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	h.setQuota(h.tenantA, 2, 2)
	h.createN(rep, "A", 2)
	wantQuotaExceeded(t, h.do("POST", "/v1/contacts", rep, anna), 2, 2, "your tenant may hold at most 2 contacts; it holds 2")
	h.setQuota(h.tenantA, 3, 3)
	h.createN(rep, "B", 1)
	wantQuotaExceeded(t, h.do("POST", "/v1/contacts", rep, anna), 3, 3, "your tenant may hold at most 3 contacts; it holds 3")
	h.setQuota(h.tenantA, 4, 0)
	h.createN(rep, "C", 3)
	h.wantUncounted(t, h.tenantA, 6)
}

// A tenant without a quota is not counted: its creates, imports, deletes,
// merges and erasures write no row of contact_counts.
func TestContactsOfTenantWithoutQuotaAreNotCounted(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	ids := h.createN(adm, "A", 4)
	id := h.postCSV(adm, "entity=contacts", []byte("first_name\nI1\nI2\nI3\n")).Want(t, http.StatusAccepted).Body["id"].(string)
	if done := h.waitImport(adm, id); done.Body["status"] != "done" || done.Body["created"] != float64(3) {
		t.Fatalf("import: %s", done.Raw)
	}
	h.do("DELETE", "/v1/contacts/"+ids[0], adm, nil).Want(t, http.StatusNoContent)
	h.do("POST", "/v1/contacts/"+ids[1]+"/merge", adm, map[string]any{"from": []string{ids[2]}}).Want(t, http.StatusOK)
	h.do("POST", "/v1/contacts/"+ids[3]+"/erase", adm, nil).Want(t, http.StatusOK)
	h.wantUncounted(t, h.tenantA, 4)
	h.do("POST", "/v1/contacts/"+ids[1]+"/unmerge", adm, nil).Want(t, http.StatusOK)
	h.wantUncounted(t, h.tenantA, 5)
	// A new generation that still has no quota changes nothing.
	h.setQuota(h.tenantA, 2, 0)
	h.wantUncounted(t, h.tenantA, 5)
}

// A quota set on a tenant that already holds contacts starts from an exact
// recount of them; removing it drops the count (and lets the tenant create
// again), setting it again recounts.
func TestContactsQuotaSetOnTenantWithContacts(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	ids := h.createN(adm, "A", 5)
	h.do("POST", "/v1/contacts/"+ids[0]+"/erase", adm, nil).Want(t, http.StatusOK)
	h.do("DELETE", "/v1/contacts/"+ids[1], adm, nil).Want(t, http.StatusNoContent)
	h.wantUncounted(t, h.tenantA, 3)

	h.setQuota(h.tenantA, 2, 5)
	h.wantCounted(t, h.tenantA, 3)
	if rows := h.countRows(h.tenantA, "contact_counts"); rows != 1 {
		t.Fatalf("the recount is %d rows, want 1", rows)
	}
	h.createN(adm, "B", 2)
	wantQuotaExceeded(t, h.do("POST", "/v1/contacts", adm, anna), 5, 5, "your tenant may hold at most 5 contacts; it holds 5")
	// Tenant B, without a quota, is still not counted.
	h.createN(h.token(h.tenantB, auth.RoleRep), "B", 2)
	h.wantUncounted(t, h.tenantB, 2)

	h.setQuota(h.tenantA, 3, 0)
	h.wantUncounted(t, h.tenantA, 5)
	h.createN(adm, "C", 3)
	h.wantUncounted(t, h.tenantA, 8)

	h.setQuota(h.tenantA, 4, 9)
	h.wantCounted(t, h.tenantA, 8)
	h.createN(adm, "D", 1)
	wantQuotaExceeded(t, h.do("POST", "/v1/contacts", adm, anna), 9, 9, "your tenant may hold at most 9 contacts; it holds 9")
	// A quota that changes but stays keeps the count as it is.
	h.setQuota(h.tenantA, 5, 10)
	h.wantCounted(t, h.tenantA, 9)
	h.createN(adm, "E", 1)
	wantQuotaExceeded(t, h.do("POST", "/v1/contacts", adm, anna), 10, 10, "your tenant may hold at most 10 contacts; it holds 10")
	h.wantCounted(t, h.tenantA, 10)
}

// Contacts created while the quota appears are each counted once: the
// recount and the creates around it miss none and count none twice.
func TestContactsQuotaSetWhileCreating(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	const clients = 8
	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		mu      sync.Mutex
		created int
		errs    []string
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"first_name":"Writer %d-%d"}`, c, i)
				req, _ := http.NewRequest("POST", h.url+"/v1/contacts", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+rep)
				req.Header.Set("Content-Type", "application/json")
				resp, err := testenv.Do(t, req)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err.Error())
				case resp.StatusCode == http.StatusCreated:
					created++
				default:
					errs = append(errs, resp.Status)
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	// Each turn lists the tenant (a recount while the creates go on),
	// checks the count, and unlists it again.
	generation := int64(1)
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		generation++
		h.setQuota(h.tenantA, generation, 1_000_000)
		time.Sleep(100 * time.Millisecond)
		h.countedExactly(t, h.tenantA)
		generation++
		h.setQuota(h.tenantA, generation, 0)
	}
	generation++
	h.setQuota(h.tenantA, generation, 1_000_000)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d creates failed: %v", len(errs), errs[:min(len(errs), 5)])
	}
	h.wantCounted(t, h.tenantA, created)
	t.Logf("%d contacts created", created)
}

// Creates racing for the last places of a small quota take exactly those:
// near the boundary they are counted one after another.
func TestConcurrentCreatesStayWithinQuota(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	const quota, clients = 10, 40
	h.setQuota(h.tenantA, 2, quota)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		refused int
		other   []string
	)
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf(`{"first_name":"Racer %d"}`, i)
			req, _ := http.NewRequest("POST", h.url+"/v1/contacts", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+rep)
			req.Header.Set("Content-Type", "application/json")
			resp, err := testenv.Do(t, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err.Error())
			case resp.StatusCode == http.StatusCreated:
				created++
			case resp.StatusCode == http.StatusForbidden:
				refused++
			default:
				other = append(other, resp.Status)
			}
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	close(start)
	wg.Wait()
	if created != quota || refused != clients-quota || len(other) > 0 {
		t.Fatalf("%d created, %d refused, others %v; want %d and %d", created, refused, other, quota, clients-quota)
	}
	h.wantCounted(t, h.tenantA, quota)
}

// An import that would go over the quota stops with an error naming it:
// the batch that would cross it stores nothing, the batches before stay.
// An import into a full tenant is refused at once.
func TestImportStopsAtContactsQuota(t *testing.T) {
	h := start(t)
	rep := h.token(h.tenantA, auth.RoleRep)
	h.setQuota(h.tenantA, 2, 1200)
	var file strings.Builder
	file.WriteString("first_name,emails\n")
	for i := range 1500 {
		fmt.Fprintf(&file, "Row %d,row%d@example.com\n", i, i)
	}
	id := h.postCSV(rep, "entity=contacts", []byte(file.String())).Want(t, http.StatusAccepted).Body["id"].(string)
	done := h.waitImport(rep, id)
	msg, _ := done.Body["error"].(string)
	if done.Body["status"] != "failed" || counts(done) != "total=1500 done=1000 created=1000 updated=0 skipped=0 failed=0" ||
		!strings.Contains(msg, "contacts quota") || !strings.Contains(msg, "at most 1200 contacts; it holds 1000") ||
		!strings.Contains(msg, "would have added 500") || !strings.Contains(msg, "from row 1001") ||
		!strings.Contains(msg, "The first 1000 rows were imported before and stay (1000 contacts created") {
		t.Fatalf("import over the quota: %s", done.Raw)
	}
	h.wantCounted(t, h.tenantA, 1000)
	if n := h.countSQL(h.tenantA, "select count(*)::int from contacts where first_name = 'Row 1000'"); n != 0 {
		t.Fatal("a row of the refused batch was stored")
	}

	// A batch that does not fit stores none of its rows, even those that would.
	h.setQuota(h.tenantA, 3, 1003)
	small := []byte("first_name\nX1\nX2\nX3\nX4\nX5\n")
	id = h.postCSV(rep, "entity=contacts", small).Want(t, http.StatusAccepted).Body["id"].(string)
	done = h.waitImport(rep, id)
	if done.Body["status"] != "failed" || counts(done) != "total=5 done=0 created=0 updated=0 skipped=0 failed=0" ||
		!strings.Contains(done.Body["error"].(string), "at most 1003 contacts; it holds 1000") {
		t.Fatalf("import of a batch over the quota: %s", done.Raw)
	}
	h.wantCounted(t, h.tenantA, 1000)

	// Full: refused before the file is stored; a dry run still runs.
	h.setQuota(h.tenantA, 4, 1000)
	wantQuotaExceeded(t, h.postCSV(rep, "entity=contacts", small), 1000, 1000, "your tenant may hold at most 1000 contacts; it holds 1000")
	if n := h.countRows(h.tenantA, "imports"); n != 2 {
		t.Fatalf("a refused import stored a job: %d jobs", n)
	}
	id = h.postCSV(rep, "entity=contacts&dry_run=true", small).Want(t, http.StatusAccepted).Body["id"].(string)
	if done = h.waitImport(rep, id); done.Body["status"] != "done" || done.Body["created"] != float64(5) {
		t.Fatalf("dry run into a full tenant: %s", done.Raw)
	}
	// Tenant B has no quota: its import is whole.
	tokB := h.token(h.tenantB, auth.RoleRep)
	id = h.postCSV(tokB, "entity=contacts", small).Want(t, http.StatusAccepted).Body["id"].(string)
	if done = h.waitImport(tokB, id); done.Body["status"] != "done" || done.Body["created"] != float64(5) {
		t.Fatalf("tenant B's import: %s", done.Raw)
	}
	h.wantUncounted(t, h.tenantB, 5)
}
