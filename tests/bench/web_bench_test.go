package bench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rapportcrm/rapport/pkg/dev/browsertest"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/tests/platform"
)

// BenchmarkWebApp measures the web application's budgets (DESIGN.md §13)
// in Debian's Chromium against the platform as make run starts it:
//   - initial-js-KB: the JavaScript the first page loads (index.html's
//     script and module preloads), gzipped;
//   - ready-ms: from navigation to the day page's data on screen (the
//     application's performance mark), signed in, p50 and p95 of 20 loads;
//   - move-shown-ms: from Alt+→ on a board card to the frame after the card
//     sits in the next column, p50 and p95 of 20 moves;
//   - move-reconciled-ms: from the key to the server's answer to the move
//     (counts and sums then agree with the server), p95.
func BenchmarkWebApp(b *testing.B) {
	b.ReportMetric(initialJS(b), "initial-js-KB")

	bin := platform.Build(b)
	p := platform.New(b, bin, filepath.Join(b.TempDir(), "data"), "LOG_LEVEL=warn")
	p.Start()
	admin := p.Token("demo", "admin")
	pipes := testenv.Call(b, "GET", p.Gateway+"/v1/pipelines", admin, nil)
	items, _ := pipes.Body["items"].([]any)
	if len(items) == 0 {
		b.Fatalf("no pipeline: %s", pipes.Raw)
	}
	pipeline := items[0].(map[string]any)["id"]
	const deals = 20
	for i := range deals {
		r := testenv.Call(b, "POST", p.Gateway+"/v1/deals", admin,
			fmt.Sprintf(`{"title":"Bench deal %d","amount":%d,"currency":"RUB","pipeline_id":%q}`, i, 100000*(i+1), pipeline))
		if r.Status != http.StatusCreated {
			b.Fatalf("deal: %d %s", r.Status, r.Raw)
		}
	}

	ctx := browsertest.New(b)
	p.SignIn(b, ctx, "/day", "demo", "admin", "", "team-1")
	var ready []float64
	for range 20 {
		var ms float64
		browsertest.Run(b, ctx, "load the day", chromedp.Navigate(p.Gateway+"/day"), platform.Ready(),
			chromedp.Evaluate(`performance.getEntriesByName('rapport-ready')[0].startTime`, &ms))
		ready = append(ready, ms)
	}

	browsertest.Run(b, ctx, "open the board", chromedp.Navigate(p.Gateway+"/board"), platform.Ready(),
		chromedp.WaitVisible(`[data-testid="deal-card"]`, chromedp.ByQuery))
	var shown, reconciled []float64
	for range deals {
		var m struct{ Shown, Reconciled float64 }
		browsertest.Run(b, ctx, "move a card", chromedp.Evaluate(moveScript, &m,
			func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams { return p.WithAwaitPromise(true) }))
		shown, reconciled = append(shown, m.Shown), append(reconciled, m.Reconciled)
	}
	sort.Float64s(ready)
	sort.Float64s(shown)
	sort.Float64s(reconciled)
	b.ReportMetric(quantile(ready, 0.50), "ready-p50-ms")
	b.ReportMetric(quantile(ready, 0.95), "ready-p95-ms")
	b.ReportMetric(quantile(shown, 0.50), "move-shown-p50-ms")
	b.ReportMetric(quantile(shown, 0.95), "move-shown-p95-ms")
	b.ReportMetric(quantile(reconciled, 0.95), "move-reconciled-p95-ms")
}

// moveScript moves the first card of the first column that holds one to
// the next column with the keyboard, and times the frame after the card is
// there and the server's answer to the move.
const moveScript = `new Promise((resolve, reject) => {
  const card = document.querySelector('[data-testid="column"] [data-testid="deal-card"]');
  if (!card) return reject(new Error('no card'));
  const id = card.dataset.id;
  const from = card.closest('[data-testid="column"]').dataset.stageId;
  const t0 = performance.now();
  let shown = 0;
  const done = () => {
    const sent = performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/deals/' + id + '/move') && e.startTime >= t0);
    if (shown && sent.length && sent[0].responseEnd > 0) {
      resolve({Shown: shown, Reconciled: sent[0].responseEnd - t0});
    } else setTimeout(done, 5);
  };
  const look = () => {
    const now = document.querySelector('[data-testid="deal-card"][data-id="' + id + '"]');
    const col = now && now.closest('[data-testid="column"]');
    if (col && col.dataset.stageId !== from) {
      requestAnimationFrame(() => { shown = performance.now() - t0; done(); });
    } else requestAnimationFrame(look);
  };
  card.focus();
  card.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', altKey: true, bubbles: true}));
  look();
  setTimeout(() => reject(new Error('the move was not shown within 5 s')), 5000);
})`

// BenchmarkWebSearch types searches on the contacts page over 1,000,000
// contacts (imported through the API) and reports the time from the last
// keystroke to the frame after the person is the first row on screen
// (search-ms: debounce, request, render), p50 and p95 of 20 searches for
// one person's e-mail each.
func BenchmarkWebSearch(b *testing.B) {
	const contacts = 1_000_000
	bin := platform.Build(b)
	p := platform.New(b, bin, filepath.Join(b.TempDir(), "data"), "LOG_LEVEL=warn")
	p.Start()
	admin := p.Token("demo", "admin")
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		fmt.Fprintln(w, "first_name,last_name,emails,phones")
		for i := range contacts {
			fmt.Fprintf(w, "Имя%d,Фамилия%d,person%d@example.ru,+7 9%02d %03d-%02d-%02d\n", i, i, i, i/1000000, (i/10000)%1000, (i/100)%100, i%100)
		}
		_ = w.Flush()
		_ = pw.Close()
	}()
	req, _ := http.NewRequest("POST", p.Gateway+"/v1/imports?entity=contacts&on_duplicate=create", pr)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "text/csv")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var job struct{ ID string }
	_ = json.NewDecoder(res.Body).Decode(&job)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusAccepted || job.ID == "" {
		b.Fatalf("import: %d", res.StatusCode)
	}
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(time.Second) {
		r := testenv.Call(b, "GET", p.Gateway+"/v1/imports/"+job.ID, admin, nil)
		if st, _ := r.Body["status"].(string); st == "done" || st == "completed" || st == "finished" {
			break
		} else if st == "failed" || time.Now().After(deadline) {
			b.Fatalf("import: %s", r.Raw)
		}
	}

	ctx := browsertest.New(b)
	p.SignIn(b, ctx, "/contacts", "demo", "admin", "", "team-1")
	var took []float64
	for i := range 20 {
		n := (i*49999 + 12345) % contacts
		var ms float64
		browsertest.Run(b, ctx, "search", chromedp.Evaluate(fmt.Sprintf(searchScript, fmt.Sprintf("person%d@example.ru", n), fmt.Sprintf("person%d@example.ru", n)), &ms,
			func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams { return p.WithAwaitPromise(true) }))
		took = append(took, ms)
	}
	sort.Float64s(took)
	b.ReportMetric(quantile(took, 0.50), "search-p50-ms")
	b.ReportMetric(quantile(took, 0.95), "search-p95-ms")

	// Scrolling the whole base: the list keeps few rows in the page and
	// fetches the next by cursor as it nears the end.
	var scroll struct {
		FrameP95, FrameMax float64
		Rows, MaxDOMRows   int
	}
	browsertest.Run(b, ctx, "the whole list", chromedp.Navigate(p.Gateway+"/contacts"), platform.Ready(),
		chromedp.WaitVisible(`[data-testid="contact-row"]`, chromedp.ByQuery))
	browsertest.EvalInto(b, ctx, "scroll", scrollScript, &scroll)
	b.ReportMetric(scroll.FrameP95, "scroll-frame-p95-ms")
	b.ReportMetric(scroll.FrameMax, "scroll-frame-max-ms")
	b.ReportMetric(float64(scroll.Rows), "scroll-rows-reached")
	b.ReportMetric(float64(scroll.MaxDOMRows), "scroll-dom-rows-max")
}

// scrollScript scrolls the contacts list down by four rows every frame for
// five seconds, as a fast flick of the wheel would, and resolves with the
// frame intervals, how far it got and the most rows the page held at once.
const scrollScript = `new Promise((resolve) => {
  const list = document.querySelector('[data-testid="contact-list"]');
  const frames = [];
  let last = performance.now(), maxRows = 0;
  const t0 = last;
  const step = (now) => {
    frames.push(now - last);
    last = now;
    maxRows = Math.max(maxRows, list.querySelectorAll('[data-testid="contact-row"]').length);
    list.scrollTop += 4 * 48;
    if (now - t0 < 5000) return requestAnimationFrame(step);
    frames.sort((a, b) => a - b);
    resolve({FrameP95: frames[Math.floor(frames.length * 0.95)], FrameMax: frames[frames.length - 1],
      Rows: Math.floor(list.scrollTop / 48), MaxDOMRows: maxRows});
  };
  requestAnimationFrame(step);
})`

// searchScript types a query into the contacts search box as keystrokes
// would (one input event per character) and resolves with the milliseconds
// from the last one to the frame after a row holding want is on screen.
const searchScript = `new Promise((resolve, reject) => {
  const box = document.querySelector('[data-testid="contact-search"]');
  const q = %q, want = %q;
  box.focus();
  box.value = '';
  box.dispatchEvent(new Event('input', {bubbles: true}));
  let i = 0, t0 = 0;
  const type = () => {
    box.value = q.slice(0, ++i);
    box.dispatchEvent(new Event('input', {bubbles: true}));
    if (i < q.length) return setTimeout(type, 30);
    t0 = performance.now();
    look();
  };
  const look = () => {
    const rows = [...document.querySelectorAll('[data-testid="contact-row"]')];
    if (rows.length > 0 && rows[0].textContent.includes(want)) {
      requestAnimationFrame(() => resolve(performance.now() - t0));
    } else requestAnimationFrame(look);
  };
  type();
  setTimeout(() => reject(new Error('no result within 10 s for ' + q)), 10000);
})`

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

var entryJS = regexp.MustCompile(`(?:src|href)="(/assets/[^"]+\.js)"`)

// initialJS is the gzipped size in KB of the scripts index.html loads.
func initialJS(b *testing.B) float64 {
	_, file, _, _ := runtime.Caller(0)
	dist := filepath.Join(filepath.Dir(file), "..", "..", "services", "gateway", "web", "dist")
	index, err := os.ReadFile(filepath.Join(dist, "index.html"))
	if err != nil {
		b.Fatalf("the web application is not built (make web): %v", err)
	}
	total := 0
	for _, m := range entryJS.FindAllStringSubmatch(string(index), -1) {
		js, err := os.ReadFile(filepath.Join(dist, m[1]))
		if err != nil {
			b.Fatal(err)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(js)
		_ = w.Close()
		total += gz.Len()
	}
	if total == 0 {
		b.Fatalf("index.html loads no script:\n%s", index)
	}
	return float64(total) / 1024
}
