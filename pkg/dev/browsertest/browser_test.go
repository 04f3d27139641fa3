package browsertest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser starts, renders a page, keeps its screenshot and runs axe,
// which finds what a page breaks.
func TestBrowserRendersScreenshotsAndChecksAccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><title>x</title><main><h1>Hello</h1><img src="data:,"><button></button></main></html>`))
	}))
	defer srv.Close()
	ctx := New(t)
	var text string
	Run(t, ctx, "open", chromedp.Navigate(srv.URL), chromedp.Text("h1", &text))
	if text != "Hello" {
		t.Fatalf("h1 = %q", text)
	}
	t.Setenv("RAPPORT_ARTEFACTS", t.TempDir())
	if st, err := os.Stat(Screenshot(t, ctx, "hello")); err != nil || st.Size() < 1000 {
		t.Fatalf("screenshot: %v", err)
	}
	found := map[string]bool{}
	for _, v := range violations(t, ctx) {
		found[v.ID] = true
	}
	if !found["image-alt"] || !found["button-name"] {
		t.Fatalf("axe did not find the image without alt and the button without a name: %v", found)
	}
}
