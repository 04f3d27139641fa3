package app_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// BenchmarkImport imports IMPORT_ROWS (default 1,000,000) generated
// contacts, Russian and English, through POST /v1/imports — validated,
// normalised, deduplicated, searchable, events emitted — and, in the same
// run, loads the same contacts with psql's \copy into the same table
// (as the cluster's superuser, already normalised, bypassing row-level
// security). It reports the import's rows/s and seconds, \copy's, and
// their ratio (budget: DESIGN.md §13), and what \copy takes without the
// name-search index.
func BenchmarkImport(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("IMPORT_ROWS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	h := start(b)
	file := generatedCSV(n)
	b.ResetTimer()
	begin := time.Now()
	importCSV(b, h, h.tenantA, file, n)
	took := time.Since(begin)
	b.StopTimer()

	raw := rawCopyFile(b, h, n)
	u, _ := url.Parse(h.appURL)
	super := testenv.Postgres(b).URL("postgres", strings.TrimPrefix(u.Path, "/"))
	bin, err := pgcluster.BinDir()
	if err != nil {
		b.Fatal(err)
	}
	psql := func(sql string) time.Duration {
		begin := time.Now()
		cmd := exec.Command(filepath.Join(bin, "psql"), super, "-v", "ON_ERROR_STOP=1", "-c", sql)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", sql, err, out)
		}
		return time.Since(begin)
	}
	copyInto := func(table string) string {
		return `\copy ` + table + ` (id, tenant_id, first_name, last_name, emails, phones, owner_id, tags, lifecycle_stage, version, ` +
			`created_at, updated_at, search, sort_name) from '` + raw + `' with (format csv)`
	}
	copyTook := psql(copyInto("contacts"))

	// The floor under the absolute budget: the same rows into an empty copy
	// of the table with every index but the trigram one that makes names
	// searchable by fragment.
	psql(`create table bench_floor (like contacts including all)`)
	psql(`do $$ declare i text; begin
		for i in select indexname from pg_indexes where tablename = 'bench_floor' and indexdef like '%gin_trgm_ops%' loop
			execute format('drop index %I', i);
		end loop; end $$`)
	floorTook := psql(copyInto("bench_floor"))
	psql(`drop table bench_floor`)

	b.ReportMetric(float64(n)/took.Seconds(), "rows/s")
	b.ReportMetric(took.Seconds(), "import-s")
	b.ReportMetric(copyTook.Seconds(), "copy-s")
	b.ReportMetric(copyTook.Seconds()/took.Seconds(), "x-copy")
	b.ReportMetric(floorTook.Seconds(), "copy-without-trigrams-s")
}

// rawCopyFile writes the generated contacts as rows of the contacts table,
// normalised as the service stores them, for \copy (tenant B, new ids).
func rawCopyFile(b *testing.B, h *harness, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "contacts.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	ru := domain.Settings{DefaultCountry: "RU"}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	array := func(xs []string) string { return "{" + strings.Join(xs, ",") + "}" }
	for i := range n {
		c, err := domain.NewContact(h.tenantB, GeneratedContact(i), ru, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		cf := c.Fields()
		_ = w.Write([]string{c.ID().String(), h.tenantB.String(), cf.FirstName, cf.LastName, array(cf.Emails), array(cf.Phones),
			cf.OwnerID, array(cf.Tags), cf.LifecycleStage, "1", now, now, c.SearchText(), c.SortName()})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		b.Fatal(err)
	}
	return path
}

// generatedCSV is a contacts CSV of the first n generated contacts.
func generatedCSV(n int) []byte {
	var file bytes.Buffer
	w := csv.NewWriter(&file)
	_ = w.Write([]string{"first_name", "last_name", "emails", "phones", "tags", "lifecycle_stage", "owner_id"})
	for i := range n {
		f := GeneratedContact(i)
		_ = w.Write([]string{f.FirstName, f.LastName, f.Emails[0], f.Phones[0], f.Tags[0], f.LifecycleStage, f.OwnerID})
	}
	w.Flush()
	return file.Bytes()
}

// importCSV imports file, of n contacts, into tenant and waits for the end.
func importCSV(b *testing.B, h *harness, tenant uuid.UUID, file []byte, n int) {
	b.Helper()
	tok := h.token(tenant, auth.RoleAdmin)
	id := h.postCSV(tok, "entity=contacts", file).Want(b, http.StatusAccepted).Body["id"].(string)
	if done := h.waitImport(tok, id); done.Body["status"] != "done" || done.Body["created"].(float64) != float64(n) {
		b.Fatalf("import: %s", done.Raw)
	}
}
