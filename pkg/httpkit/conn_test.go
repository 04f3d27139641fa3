package httpkit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// serveRaw runs httpkit.Serve on a loopback port and returns its address.
func serveRaw(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- httpkit.Serve(ctx, l, h, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Second)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	return l.Addr().String()
}

// exchange writes raw requests on one connection (while reading, so that a
// server hanging up on a long request is still heard) and reads as many
// responses.
func exchange(t *testing.T, addr string, raw string, responses int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, raw) }()
	br := bufio.NewReader(c)
	var out []*http.Response
	for range responses {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read response %d: %v", len(out)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read body %d: %v", len(out)+1, err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, resp)
	}
	return out
}

func TestServeAnswersUnreadableRequestsWithProblems(t *testing.T) {
	addr := serveRaw(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own-text-error" {
			// A handler's own answer is never rewritten, even one shaped like net/http's.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "400 Bad Request")
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	get := func(headers string) string { return "GET / HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" }
	for _, tc := range []struct {
		name       string
		raw        string
		wantStatus int
		wantSlug   string
		wantDetail string
	}{
		{"NUL in a header value", get("X-Note: a\x00b\r\n"), 400, "malformed-request", "control character"},
		{"2 MB header", get("X-Big: " + strings.Repeat("a", 2<<20) + "\r\n"), 431, "headers-too-large", "64 KiB"},
		{"header just over the limit", get("X-Big: " + strings.Repeat("a", httpkit.MaxHeaderBytes+8<<10) + "\r\n"), 431, "headers-too-large", ""},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, "malformed-request", "missing required Host header"},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: rot13\r\n\r\n", 501, "unsupported-transfer-encoding", ""},
		{"unmet expectation", get("Expect: teapot\r\n"), 417, "expectation-failed", "100-continue"},
		{"large but allowed header", get("X-Big: " + strings.Repeat("a", 60<<10) + "\r\n"), 200, "", ""},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "malformed-request", ""},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505, "http-version-not-supported", ""},
		{"asterisk target with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed-request", "OPTIONS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := exchange(t, addr, tc.raw, 1)[0]
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != httpkit.ContentTypeProblem {
				t.Fatalf("content type %q: %s", ct, body)
			}
			if resp.Header.Get("Date") == "" || resp.ContentLength != int64(len(body)) {
				t.Errorf("headers %v for a body of %d bytes", resp.Header, len(body))
			}
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if p.Status != tc.wantStatus || p.Type != httpkit.ProblemType(tc.wantSlug) || p.Title != http.StatusText(tc.wantStatus) ||
				!strings.Contains(p.Detail, tc.wantDetail) {
				t.Fatalf("problem %+v, want %s with %q", p, tc.wantSlug, tc.wantDetail)
			}
		})
	}

	t.Run("after a good request on the same connection", func(t *testing.T) {
		rs := exchange(t, addr, get("")+get("X-Note: \x00\r\n"), 2)
		if rs[0].StatusCode != 200 || rs[1].StatusCode != 400 || rs[1].Header.Get("Content-Type") != httpkit.ContentTypeProblem {
			t.Fatalf("have %d then %d %q", rs[0].StatusCode, rs[1].StatusCode, rs[1].Header.Get("Content-Type"))
		}
	})
	t.Run("a handler's text answer", func(t *testing.T) {
		resp := exchange(t, addr, "GET /own-text-error HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || string(body) != "400 Bad Request" {
			t.Fatalf("rewritten: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
}
