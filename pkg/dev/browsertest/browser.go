// Package browsertest drives Debian's Chromium (/usr/bin/chromium, or
// $CHROMIUM) headless through the DevTools protocol (chromedp) for the web
// application's tests: a fresh profile per test, screenshots kept as
// artefacts, and axe-core run over a page.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Path is the browser the tests run.
func Path() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// New starts a headless Chromium with an empty profile and returns a tab's
// context; the browser ends with t. A machine without Chromium fails the
// test: make test installs it (.ci/run).
func New(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(Path()); err != nil {
		t.Fatalf("Chromium is needed for the web tests: apt-get install chromium (%v)", err)
	}
	// The profile is removed after the browser: its helpers may still be
	// writing to it for a moment after the main process ends.
	profile, err := os.MkdirTemp("", "chromium-profile-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path()), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile), chromedp.WindowSize(1366, 860),
		// This machine's network is closed: Chromium must not try to reach Google.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-features", "Translate,MediaRouter"),
		chromedp.Flag("lang", "en-US"),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Run(ctx); err != nil {
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// Cleanups run last first: a failed test keeps the page it failed on
	// before the browser goes.
	t.Cleanup(func() {
		if t.Failed() {
			Screenshot(t, ctx, "failed-"+strings.NewReplacer("/", "-", " ", "-", "'", "", ":", "", ",", "").Replace(t.Name()))
		}
	})
	return ctx
}

// Run runs actions with a deadline, failing t with what was being done.
func Run(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// root is the repository root (this file is pkg/dev/browsertest/browser.go).
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// ArtefactDir is where screenshots are kept: $RAPPORT_ARTEFACTS, or
// .cache/artefacts/web at the repository root.
func ArtefactDir() string {
	if d := os.Getenv("RAPPORT_ARTEFACTS"); d != "" {
		return d
	}
	return filepath.Join(root(), ".cache", "artefacts", "web")
}

// Screenshot saves the whole page as <name>.png among the artefacts,
// scrolled to the top so that the sticky bar is where a person sees it.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	var png []byte
	Run(t, ctx, "screenshot "+name, chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.FullScreenshot(&png, 100))
	if err := os.MkdirAll(ArtefactDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ArtefactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// Violation is one axe-core rule a page breaks.
type Violation struct {
	ID, Impact, Help string
	Nodes            []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	}
}

// axeScript is axe-core from the web application's npm packages.
func axeScript(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(), "services", "gateway", "web", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is installed with the web application's packages (make web): %v", err)
	}
	return string(b)
}

// Axe runs axe-core (WCAG 2.1 A and AA rules) over the page and fails t on
// any serious or critical violation; it returns all of them.
func Axe(t testing.TB, ctx context.Context, page string) []Violation {
	t.Helper()
	all := violations(t, ctx)
	var bad []string
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target)+" "+n.HTML)
			}
			bad = append(bad, fmt.Sprintf("%s (%s): %s\n    %s", v.ID, v.Impact, v.Help, strings.Join(where, "\n    ")))
		}
	}
	if len(bad) > 0 {
		t.Errorf("axe on %s: %d serious or critical violations:\n  %s", page, len(bad), strings.Join(bad, "\n  "))
	}
	return all
}

// violations runs axe-core over the page.
func violations(t testing.TB, ctx context.Context) []Violation {
	t.Helper()
	var raw string
	script := axeScript(t) + `;axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a','wcag2aa','wcag21a','wcag21aa','best-practice']}})
		.then(r => JSON.stringify(r.violations))`
	Run(t, ctx, "axe", chromedp.Evaluate(script, &raw, func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	var all []Violation
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		t.Fatalf("axe: %v", err)
	}
	return all
}

// EvalInto runs JavaScript in the page, awaiting a promise it returns, and
// decodes its value into out (nil to drop it).
func EvalInto(t testing.TB, ctx context.Context, what, js string, out any) {
	t.Helper()
	Run(t, ctx, what, chromedp.Evaluate(js, out, func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// Eval runs JavaScript in the page, awaiting a promise it returns, and
// returns its value.
func Eval[T any](t testing.TB, ctx context.Context, what, js string) T {
	t.Helper()
	var v T
	EvalInto(t, ctx, what, js, &v)
	return v
}

// Exists says whether sel matches an element of the page.
func Exists(t testing.TB, ctx context.Context, sel string) bool {
	t.Helper()
	return Eval[bool](t, ctx, "find "+sel, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
}

// Until polls a JavaScript condition in the page for up to 10 seconds,
// failing t with the page's main text when it never holds.
func Until(t testing.TB, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !Eval[bool](t, ctx, what, js) {
		if time.Now().After(deadline) {
			var body string
			Run(t, ctx, "main text", chromedp.Text(`main`, &body, chromedp.ByQuery))
			t.Fatalf("never: %s\n%s", what, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Click clicks sel as a person does, once it is visible and in the middle
// of the window (at its top edge the sticky bar would take the click).
func Click(sel string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.WaitVisible(sel, chromedp.ByQuery),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: 'center'}), true`, sel), nil),
		chromedp.Click(sel, chromedp.ByQuery),
	}
}

// SetValue sets a control's value as a person would and lets the page know
// (input and change events).
func SetValue(t testing.TB, ctx context.Context, sel, value string) {
	t.Helper()
	if !Eval[bool](t, ctx, "set "+sel, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.focus();
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
		return el.value === %q;
	})()`, sel, value, value)) {
		t.Fatalf("%s did not take the value %q", sel, value)
	}
}
