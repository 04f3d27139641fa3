package bench

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"testing"

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
