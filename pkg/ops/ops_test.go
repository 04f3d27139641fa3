package ops_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/ops"
)

func TestAddrFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name, env, api string
		want, wantErr  string
	}{
		{name: "derived from the API port", api: "127.0.0.1:8081", want: "127.0.0.1:9081"},
		{name: "derived, every interface", api: ":8080", want: ":9080"},
		{name: "any free port stays any", api: "127.0.0.1:0", want: "127.0.0.1:0"},
		{name: "set", env: "0.0.0.0:9090", api: "127.0.0.1:8081", want: "0.0.0.0:9090"},
		{name: "set without a port", env: "127.0.0.1", api: "127.0.0.1:8081", wantErr: "OPS_ADDR"},
		{name: "set to a bad port", env: ":99999", api: "127.0.0.1:8081", wantErr: "OPS_ADDR"},
		{name: "derived out of range", api: "127.0.0.1:65000", wantErr: "OPS_ADDR"},
		{name: "API address unreadable", api: "localhost", wantErr: "OPS_ADDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OPS_ADDR", tc.env)
			have, err := ops.AddrFromEnv(tc.api)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error naming %s, have %q, %v", tc.wantErr, have, err)
				}
				return
			}
			if err != nil || have != tc.want {
				t.Fatalf("want %q, have %q (%v)", tc.want, have, err)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	var notReady error
	h := ops.Handler(func(context.Context) error { return notReady })
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	if w := get("/metrics"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "go_goroutines") {
		t.Fatalf("/metrics: %d %.200s", w.Code, w.Body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if w := get(path); w.Code != http.StatusOK {
			t.Fatalf("%s: want 200, have %d", path, w.Code)
		}
	}
	notReady = errors.New("database: gone")
	if w := get("/readyz"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "database: gone") {
		t.Fatalf("/readyz when not ready: %d %s", w.Code, w.Body)
	}
	w := get("/v1/contacts")
	if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("another path: want a 404 problem, have %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

// An empty OPS_ADDR binds and serves nothing; a taken one is an error that
// names the variable.
func TestListen(t *testing.T) {
	if l, err := ops.Listen(""); l != nil || err != nil {
		t.Fatalf("empty address: %v %v", l, err)
	}
	if err := ops.Serve(t.Context(), nil, nil, nil); err != nil {
		t.Fatalf("serving nothing: %v", err)
	}
	l, err := ops.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := ops.Listen(l.Addr().String()); err == nil || !strings.Contains(err.Error(), "OPS_ADDR "+l.Addr().String()) {
		t.Fatalf("a taken address: %v", err)
	}
}
