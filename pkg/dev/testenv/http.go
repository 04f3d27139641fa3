package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Reply is an HTTP answer as the services' tests read it.
type Reply struct {
	Status int
	Header http.Header
	Body   map[string]any // the JSON object answered, if any
	Raw    []byte
}

// Call sends a request to url as a client of the public API would: a
// bearer token (when given), body as JSON (a string or []byte goes as is),
// and headers as name, value pairs. The reply is checked against the
// registered OpenAPI documents (see ValidateWith).
func Call(t testing.TB, method, url, token string, body any, headers ...string) Reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	contracts.check(t, method, req.URL, resp.StatusCode, resp.Header, raw)
	r := Reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// Want fails t unless r has status, and unless an error answer is an RFC
// 9457 problem; it returns r.
func (r Reply) Want(t testing.TB, status int) Reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("have status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("error without problem+json: %q %s", r.Header.Get("Content-Type"), r.Raw)
	}
	return r
}

// Str is a string member of the JSON object answered ("" if none).
func (r Reply) Str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// FieldPaths are the field paths a validation problem names, in order.
func (r Reply) FieldPaths() []string {
	var out []string
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		if f, ok := e.(map[string]any)["field"].(string); ok {
			out = append(out, f)
		}
	}
	return out
}

// Serve runs a service (run, as its App.Run) on a fresh local port until
// stop is called or the test ends: ctx is cancelled, Run must return
// without an error of its own, then closeFn releases the service. url is
// the service's base URL.
func Serve(t testing.TB, ctx context.Context, cancel context.CancelFunc, run func(context.Context, net.Listener) error, closeFn func()) (url string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(ctx, l) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && ctx.Err() == nil {
				t.Errorf("run: %v", err)
			}
			closeFn()
		})
	}
	t.Cleanup(stop)
	return "http://" + l.Addr().String(), stop
}

// WantField fails t unless r is a validation problem (422) that names
// field with message; it returns r.
func (r Reply) WantField(t testing.TB, field, message string) Reply {
	t.Helper()
	r.Want(t, http.StatusUnprocessableEntity)
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field && m["message"] == message {
			return r
		}
	}
	t.Fatalf("the problem does not say %s: %q: %s", field, message, r.Raw)
	return r
}

// Eventually polls cond every 20 ms until it holds, and fails t when it
// has not held after 20 seconds: for what another process does in time.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

// Member is the object member key of the JSON answered, as a Reply of its
// own (the same status and headers; an empty body when it is no object).
func (r Reply) Member(key string) Reply {
	m, _ := r.Body[key].(map[string]any)
	raw, _ := json.Marshal(m)
	return Reply{Status: r.Status, Header: r.Header, Raw: raw, Body: m}
}
