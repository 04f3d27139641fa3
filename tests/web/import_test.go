package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/charmap"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// The one person of the file the test looks for again: no other row shares
// a word of her name.
const (
	wantFirst = "Агриппина"
	wantLast  = "Зюзюкина"
)

// importFile is a contacts file as a Russian Excel saves it (the header in
// Russian, semicolons, a quoted note holding a comma and quotes): 300 people
// with unique e-mails and phones, and two rows with malformed e-mails that
// the API must refuse. bad are the file lines (the header is line 1) of
// those two.
func importFile() (text string, people int, bad []int) {
	men := []string{"Иван", "Пётр", "Алексей", "Дмитрий", "Сергей", "Николай", "Андрей", "Михаил", "Юрий", "Григорий"}
	menLast := []string{"Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов"}
	women := []string{"Анна", "Мария", "Елена", "Ольга", "Татьяна", "Наталья", "Ирина", "Светлана", "Юлия", "Ксения"}
	womenLast := []string{"Смирнова", "Кузнецова", "Попова", "Васильева", "Соколова", "Михайлова", "Новикова", "Фёдорова", "Морозова", "Волкова", "Алексеева", "Лебедева", "Семёнова", "Егорова", "Павлова"}
	var b strings.Builder
	b.WriteString("Фамилия;Имя;Телефон;E-mail;Должность;Заметка\r\n")
	line := 1
	row := func(s string) { b.WriteString(s + "\r\n"); line++ }
	for i := range 300 {
		first, last := men[i%10], menLast[(i/10)%15]
		if i >= 150 {
			first, last = women[i%10], womenLast[(i/10)%15]
		}
		if i == 217 {
			first, last = wantFirst, wantLast
		}
		note := ""
		if i%7 == 0 {
			note = `"Звонить после 14:00, спросить ""старшего"""`
		}
		row(fmt.Sprintf("%s;%s;+7 (916) %03d-%02d-42;client%03d@import-test.ru;Менеджер по закупкам;%s", last, first, 500+i/100, i%100, i, note))
		if i == 99 || i == 199 {
			row(fmt.Sprintf("Плохой;Адрес;+7 (916) 999-00-%02d;bad%d.at.import-test.ru;;", i/100, i))
			bad = append(bad, line)
		}
	}
	return b.String(), 300, bad
}

func TestImportAndExportInChromium(t *testing.T) {
	bin := platform.Build(t)
	p := platform.New(t, bin, filepath.Join(t.TempDir(), "data"))
	p.Start()
	admin := p.Token("demo", "admin")

	text, people, bad := importFile()
	cp1251, err := charmap.Windows1251.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "clients-1251.csv")
	if err := os.WriteFile(file, []byte(cp1251), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.New(t)
	p.SignIn(t, ctx, "/contacts", "demo", "admin", "", "team-1")
	if !browsertest.Exists(t, ctx, `[data-testid="nav-duplicates"][href="/duplicates"]`) {
		t.Fatal("an admin is not offered the duplicates")
	}

	// Step 1: from the contacts page to the wizard, and the file.
	browsertest.Run(t, ctx, "follow the Import link",
		chromedp.Click(`[data-testid="contact-import"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-drop"]`, chromedp.ByQuery), platform.Ready())
	var loc string
	browsertest.Run(t, ctx, "where", chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/import") {
		t.Fatalf("the Import link led to %s", loc)
	}
	browsertest.Axe(t, ctx, "import: file")
	browsertest.Screenshot(t, ctx, "import-1-file")
	browsertest.Run(t, ctx, "choose the file",
		chromedp.SetUploadFiles(`[data-testid="import-file"]`, []string{file}, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-chosen"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="import-next"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-preview"]`, chromedp.ByQuery))

	// Step 2: the preview found the encoding and the delimiter, and reads the names.
	var enc, delim, preview string
	browsertest.Run(t, ctx, "read the preview",
		chromedp.Value(`[data-testid="import-encoding"]`, &enc, chromedp.ByQuery),
		chromedp.Value(`[data-testid="import-delimiter"]`, &delim, chromedp.ByQuery),
		chromedp.Text(`[data-testid="import-preview"]`, &preview, chromedp.ByQuery))
	if enc != "windows-1251" || delim != ";" {
		t.Fatalf("the preview read the file as %q with delimiter %q, want windows-1251 and ;", enc, delim)
	}
	if !strings.Contains(preview, "Смирнов") || !strings.Contains(preview, "client000@import-test.ru") || !strings.Contains(preview, `спросить "старшего"`) {
		t.Fatalf("the preview does not show the file's first rows as written:\n%s", preview)
	}
	var previewRows int
	browsertest.EvalInto(t, ctx, "preview rows", `document.querySelectorAll('[data-testid="import-preview"] tbody tr').length`, &previewRows)
	if previewRows != 10 {
		t.Fatalf("the preview shows %d rows, want the first 10", previewRows)
	}
	browsertest.Axe(t, ctx, "import: preview")
	browsertest.Screenshot(t, ctx, "import-2-preview")

	// Step 3: the columns are mapped from their Russian names; the note is skipped.
	browsertest.Run(t, ctx, "to the mapping",
		chromedp.Click(`[data-testid="import-next"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-mapping"]`, chromedp.ByQuery))
	var mapped map[string]string
	browsertest.EvalInto(t, ctx, "read the mapping", `Object.fromEntries([...document.querySelectorAll('[data-testid="import-map"]')].map(s => [s.dataset.column, s.value]))`, &mapped)
	want := map[string]string{"Фамилия": "last_name", "Имя": "first_name", "Телефон": "phones", "E-mail": "emails", "Должность": "position", "Заметка": ""}
	for col, f := range want {
		if mapped[col] != f {
			t.Fatalf("column %q is mapped to %q, want %q (all: %v)", col, mapped[col], f, mapped)
		}
	}
	browsertest.Axe(t, ctx, "import: mapping")
	browsertest.Screenshot(t, ctx, "import-3-mapping")

	// Step 4: the import runs; the bar only grows and ends full.
	browsertest.Run(t, ctx, "start",
		chromedp.Click(`[data-testid="import-start"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-progress"]`, chromedp.ByQuery))
	type bar struct {
		Value, Max float64
		Done       bool
		ID         string
	}
	var seen []bar
	deadline := time.Now().Add(90 * time.Second)
	for {
		var b bar
		browsertest.EvalInto(t, ctx, "progress", `(() => {
			const p = document.querySelector('[data-testid="import-progress"]');
			const d = document.querySelector('[data-testid="import-done"]');
			return {Value: p ? p.value : -1, Max: p ? p.max : -1, Done: !!d, ID: d ? d.dataset.id : ''};
		})()`, &b)
		seen = append(seen, b)
		if len(seen) == 1 {
			browsertest.Screenshot(t, ctx, "import-4-progress")
		}
		if b.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not finish; the bar showed %v", seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	last := seen[len(seen)-1]
	for i := 1; i < len(seen); i++ {
		if seen[i].Value < seen[i-1].Value {
			t.Fatalf("the progress bar went back: %v", seen)
		}
	}
	total := people + len(bad)
	if last.Max != float64(total) || last.Value != last.Max {
		t.Fatalf("the finished bar shows %v of %v, want %d of %d", last.Value, last.Max, total, total)
	}
	var loc2 string
	browsertest.Run(t, ctx, "where", chromedp.Location(&loc2))
	if !strings.HasSuffix(loc2, "/import?id="+last.ID) {
		t.Fatalf("the finished import is at %s, want its id in the address", loc2)
	}
	browsertest.Axe(t, ctx, "import: done")
	browsertest.Screenshot(t, ctx, "import-5-done")

	// The summary says what the API says.
	job := testenv.Call(t, "GET", p.Gateway+"/v1/imports/"+last.ID, admin, nil).Want(t, http.StatusOK)
	if job.Str("status") != "done" || job.Str("encoding") != "windows-1251" || job.Str("delimiter") != ";" {
		t.Fatalf("the job: %s", job.Raw)
	}
	var shown map[string]float64
	browsertest.EvalInto(t, ctx, "the counts", `Object.fromEntries([...document.querySelectorAll('[data-testid="import-done"] [data-testid="import-count"]')].map(e => [e.dataset.key, Number(e.dataset.value)]))`, &shown)
	var texts map[string]string
	browsertest.EvalInto(t, ctx, "the counts' text", `Object.fromEntries([...document.querySelectorAll('[data-testid="import-done"] [data-testid="import-count"]')].map(e => [e.dataset.key, e.querySelector('dd').textContent.replace(/\s/g, '')]))`, &texts)
	for _, k := range []string{"created", "updated", "skipped", "failed"} {
		api, _ := job.Body[k].(float64)
		if shown[k] != api || texts[k] != fmt.Sprint(api) {
			t.Fatalf("the summary shows %s = %v (%q), the API %v", k, shown[k], texts[k], api)
		}
	}
	if job.Body["failed"] != float64(len(bad)) || job.Body["created"] != float64(people) || job.Body["rows_total"] != float64(total) {
		t.Fatalf("the job did not create %d contacts and refuse %d rows: %s", people, len(bad), job.Raw)
	}

	// The rejected rows are a link away, each named by its line.
	var errs struct {
		Href, Body string
		Status     int
	}
	browsertest.EvalInto(t, ctx, "the errors file", `(async () => {
		const a = document.querySelector('[data-testid="import-errors"]');
		if (!a) return {Href: '', Body: '', Status: 0};
		const r = await fetch(a.href);
		return {Href: a.getAttribute('href'), Status: r.status, Body: await r.text()};
	})()`, &errs)
	if errs.Href != "/v1/imports/"+last.ID+"/errors" || errs.Status != http.StatusOK {
		t.Fatalf("the errors link is %q (%d)", errs.Href, errs.Status)
	}
	for _, l := range bad {
		if !strings.Contains(errs.Body, fmt.Sprintf("\n%d,", l)) {
			t.Fatalf("the errors file does not name line %d:\n%s", l, errs.Body)
		}
	}

	// Her name came through the encodings intact.
	found := testenv.Call(t, "GET", p.Gateway+"/v1/contacts?q="+url.QueryEscape(wantLast), admin, nil).Want(t, http.StatusOK)
	items, _ := found.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("GET /v1/contacts?q=%s: %s", wantLast, found.Raw)
	}
	c := items[0].(map[string]any)
	if c["first_name"] != wantFirst || c["last_name"] != wantLast || fmt.Sprint(c["emails"]) != "[client217@import-test.ru]" {
		t.Fatalf("the imported contact: %v", c)
	}

	// Export: the contacts page's search goes into the download.
	browsertest.Run(t, ctx, "search the contacts",
		chromedp.Click(`[data-testid="nav-contacts"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="contact-search"]`, chromedp.ByQuery), platform.Ready(),
		chromedp.SendKeys(`[data-testid="contact-search"]`, wantLast, chromedp.ByQuery))
	testenv.Eventually(t, "the search shows her alone", func() bool {
		var rows []string
		browsertest.EvalInto(t, ctx, "rows", `[...document.querySelectorAll('[data-testid="contact-row"]')].map(r => r.textContent)`, &rows)
		return len(rows) == 1 && strings.Contains(rows[0], wantLast)
	})
	browsertest.Axe(t, ctx, "contacts with export")
	browsertest.Screenshot(t, ctx, "import-6-export")
	type download struct {
		Path, Q, Format, Type, Disposition, Body string
		Status                                   int
	}
	get := func(testid string) download {
		var d download
		browsertest.EvalInto(t, ctx, "fetch "+testid, fmt.Sprintf(`(async () => {
			const a = document.querySelector('[data-testid=%q]');
			const u = new URL(a.href);
			const r = await fetch(a.href);
			return {Path: u.pathname, Q: u.searchParams.get('q') || '', Format: u.searchParams.get('format') || '', Status: r.status,
				Type: r.headers.get('content-type') || '', Disposition: r.headers.get('content-disposition') || '', Body: await r.text()};
		})()`, testid), &d)
		if d.Path != "/v1/contacts/export" || d.Q != wantLast || d.Status != http.StatusOK {
			t.Fatalf("%s: %s?q=%s answered %d", testid, d.Path, d.Q, d.Status)
		}
		return d
	}
	read := func(body string, comma rune) [][]string {
		r := csv.NewReader(strings.NewReader(body))
		r.Comma = comma
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("the export is no CSV: %v\n%s", err, body)
		}
		return recs
	}
	plain := get("export-csv")
	recs := read(plain.Body, ',')
	if plain.Format != "" || len(recs) != 2 || recs[0][1] != "first_name" || recs[1][1] != wantFirst || recs[1][2] != wantLast {
		t.Fatalf("the CSV export of the search holds %d records:\n%s", len(recs), plain.Body)
	}
	excel := get("export-excel")
	// fetch's text() drops the byte-order mark; the headers say what Excel gets.
	recs = read(excel.Body, ';')
	if excel.Format != "excel" || len(recs) != 2 || recs[1][2] != wantLast || !strings.Contains(excel.Disposition, "contacts.csv") {
		t.Fatalf("the Excel export (%s, %s): %d records:\n%s", excel.Type, excel.Disposition, len(recs), excel.Body)
	}
	var bom bool
	browsertest.EvalInto(t, ctx, "the Excel export's first bytes", `(async () => {
		const b = new Uint8Array(await (await fetch(document.querySelector('[data-testid="export-excel"]').href)).arrayBuffer());
		return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
	})()`, &bom)
	if !bom {
		t.Fatal("the Excel export does not start with a UTF-8 byte-order mark")
	}

	t.Run("refused files, and a delimiter the server would not find", func(t *testing.T) { otherFiles(t, p) })
}

// otherFiles: files the wizard or the API refuses show a message, and the
// wizard stays usable; a file whose header has more commas than
// semicolons is read with the semicolons its rows have, by the server too.
func otherFiles(t *testing.T, p *platform.Platform) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	empty := write("empty.csv", nil)
	workbook := write("clients.xlsx", []byte("PK\x03\x04\x14\x00\x06\x00rest of a zip"))
	bom := write("bom.csv", []byte("\xef\xbb\xbffirst_name,email\nЖанна,zhanna@import-test.ru\n"))
	commas := write("commas.csv", []byte("Имя, отчество;Фамилия, инициалы;E-mail, рабочий\n"+
		"Иван Петрович;Смирнов И. П.;ivan.petrovich@import-test.ru\n"+
		"Ольга Ивановна;Орлова О. И.;olga.ivanovna@import-test.ru\n"))

	ctx := browsertest.New(t)
	p.SignIn(t, ctx, "/import", "demo", "rep", "rep1@demo", "team-1")
	problem := func() string {
		var s string
		browsertest.Run(t, ctx, "the problem", chromedp.WaitVisible(`[data-testid="import-problem"]`, chromedp.ByQuery),
			chromedp.Text(`[data-testid="import-problem"]`, &s, chromedp.ByQuery))
		return s
	}
	nextDisabled := func() bool {
		var d bool
		browsertest.EvalInto(t, ctx, "next", `document.querySelector('[data-testid="import-next"]').disabled`, &d)
		return d
	}
	browsertest.Run(t, ctx, "an empty file", chromedp.SetUploadFiles(`[data-testid="import-file"]`, []string{empty}, chromedp.ByQuery))
	if s := problem(); !strings.Contains(s, "пуст") || !nextDisabled() {
		t.Fatalf("an empty file: %q", s)
	}
	browsertest.Run(t, ctx, "a workbook", chromedp.SetUploadFiles(`[data-testid="import-file"]`, []string{workbook}, chromedp.ByQuery))
	if s := problem(); !strings.Contains(s, "Excel") || !nextDisabled() {
		t.Fatalf("a workbook: %q", s)
	}
	browsertest.Axe(t, ctx, "import: a refused file")
	browsertest.Screenshot(t, ctx, "import-refused-file")

	// A UTF-8 file with a byte-order mark, read as Windows-1251 on purpose:
	// the API refuses the contradiction (422) and the page says why.
	browsertest.Run(t, ctx, "a UTF-8 file",
		chromedp.SetUploadFiles(`[data-testid="import-file"]`, []string{bom}, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-chosen"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="import-next"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-preview"]`, chromedp.ByQuery))
	var enc string
	browsertest.Run(t, ctx, "encoding", chromedp.Value(`[data-testid="import-encoding"]`, &enc, chromedp.ByQuery))
	if enc != "utf-8" {
		t.Fatalf("a UTF-8 file with a byte-order mark reads as %q", enc)
	}
	browsertest.Run(t, ctx, "read it as Windows-1251",
		chromedp.SetValue(`[data-testid="import-encoding"]`, "windows-1251", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('[data-testid="import-encoding"]').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.Click(`[data-testid="import-next"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-mapping"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="import-start"]:not([disabled])`, chromedp.ByQuery))
	if s := problem(); !strings.Contains(s, "byte-order mark") {
		t.Fatalf("the API's refusal: %q", s)
	}
	var step string
	browsertest.Run(t, ctx, "still on the mapping", chromedp.AttributeValue(`[data-testid="import-step"]`, "data-step", &step, nil, chromedp.ByQuery))
	if step != "3" {
		t.Fatalf("after the refusal the wizard is on step %s", step)
	}
	browsertest.Axe(t, ctx, "import: refused by the API")
	browsertest.Screenshot(t, ctx, "import-refused-by-api")

	// The server takes the delimiter the header line has most of (here the
	// comma); the wizard finds the semicolon from the rows, and what it
	// sends makes the server read semicolons too. A dry run stores nothing.
	browsertest.Run(t, ctx, "a file with commas in its header",
		chromedp.Navigate(p.Gateway+"/import"), chromedp.WaitVisible(`[data-testid="import-drop"]`, chromedp.ByQuery), platform.Ready(),
		chromedp.SetUploadFiles(`[data-testid="import-file"]`, []string{commas}, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-chosen"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="import-next"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-preview"]`, chromedp.ByQuery))
	var delim string
	browsertest.Run(t, ctx, "delimiter", chromedp.Value(`[data-testid="import-delimiter"]`, &delim, chromedp.ByQuery))
	if delim != ";" {
		t.Fatalf("the rows' delimiter was read as %q", delim)
	}
	browsertest.Run(t, ctx, "map and check",
		chromedp.Click(`[data-testid="import-next"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-mapping"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="import-dry-run"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="import-start"]:not([disabled])`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="import-done"]`, chromedp.ByQuery))
	var id string
	browsertest.Run(t, ctx, "the job", chromedp.AttributeValue(`[data-testid="import-done"]`, "data-id", &id, nil, chromedp.ByQuery))
	admin := p.Token("demo", "admin")
	job := testenv.Call(t, "GET", p.Gateway+"/v1/imports/"+id, admin, nil).Want(t, http.StatusOK)
	if job.Str("delimiter") != ";" || job.Body["dry_run"] != true || job.Body["created"] != float64(2) || job.Body["failed"] != float64(0) ||
		fmt.Sprint(job.Body["columns"]) != "[first_name last_name emails]" {
		t.Fatalf("the job: %s", job.Raw)
	}
	browsertest.Axe(t, ctx, "import: a dry run")
	browsertest.Screenshot(t, ctx, "import-dry-run")
	found := testenv.Call(t, "GET", p.Gateway+"/v1/contacts?q="+url.QueryEscape("olga.ivanovna@import-test.ru"), admin, nil).Want(t, http.StatusOK)
	if items, _ := found.Body["items"].([]any); len(items) != 0 {
		t.Fatalf("a dry run stored a contact: %s", found.Raw)
	}

	// A rep imports and exports, but the duplicates are for managers.
	browsertest.Run(t, ctx, "the rep's contacts", chromedp.Click(`[data-testid="nav-contacts"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="export-csv"]`, chromedp.ByQuery), platform.Ready())
	if !browsertest.Exists(t, ctx, `[data-testid="contact-import"]`) || browsertest.Exists(t, ctx, `[data-testid="nav-duplicates"]`) {
		t.Fatal("a rep's contacts page: want Import and no Duplicates")
	}
}
