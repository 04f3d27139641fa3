package httpkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		name     string
		incoming string
		wantKept bool
	}{
		{"kept", "req-42", true},
		{"kept with punctuation", "7f1c:ab.cd/ef+g=", true},
		{"generated when absent", "", false},
		{"replaced when insane", "bad id\nwith newline", false},
		{"replaced when too long", strings.Repeat("a", 129), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inCtx, inHeader string
			h := httpkit.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx, inHeader = httpkit.RequestIDFrom(r.Context()), r.Header.Get(httpkit.HeaderRequestID)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != "" {
				r.Header[httpkit.HeaderRequestID] = []string{tc.incoming}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			have := w.Header().Get(httpkit.HeaderRequestID)
			if tc.wantKept && have != tc.incoming {
				t.Fatalf("want the incoming id %q, have %q", tc.incoming, have)
			}
			if !tc.wantKept && (have == "" || have == tc.incoming) {
				t.Fatalf("want a generated id, have %q", have)
			}
			if inCtx != have || inHeader != have {
				t.Fatalf("handler saw %q in its context and %q in the header, response said %q", inCtx, inHeader, have)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	h := httpkit.BodyLimit(16)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		if err := httpkit.DecodeJSON(r, &v); err != nil {
			httpkit.EncodeError(r.Context(), err, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct {
		name       string
		body       string
		chunked    bool
		wantStatus int
	}{
		{"under", `{"a":"b"}`, false, 204},
		{"declared over", `{"a":"bbbbbbbbbbbbbbbbbbbb"}`, false, 413},
		{"streamed over", `{"a":"bbbbbbbbbbbbbbbbbbbb"}`, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := jsonRequest(http.MethodPost, "/", tc.body)
			if tc.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("want %d, have %d (%s)", tc.wantStatus, w.Code, w.Body)
			}
			if tc.wantStatus == 413 && slugOf(readProblem(t, w)) != "too-large" {
				t.Fatalf("problem: %s", w.Body)
			}
		})
	}
}

func TestRecover(t *testing.T) {
	var logs bytes.Buffer
	h := httpkit.RequestID(httpkit.Recover(httpkit.AccessLog(telemetry.NewLogger(&logs, "test"))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("nil map") }))))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != 500 {
		t.Fatalf("want 500, have %d", w.Code)
	}
	if p := readProblem(t, w); slugOf(p) != "internal" || strings.Contains(w.Body.String(), "nil map") || p.RequestID == "" {
		t.Fatalf("problem: %s", w.Body)
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("access log missed the panic: %s", logs.String())
	}
}

func TestAccessLogReportsWhatInnerLayersLearned(t *testing.T) {
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "ok")
	})
	// An auth-like layer deeper inside learns the tenant on a copy of the request.
	tenant := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r2 := r.WithContext(telemetry.WithTenantID(r.Context(), "tenant-a"))
			next.ServeHTTP(w, r2)
			httpkit.RecordRoute(r2)
		})
	}
	h := httpkit.RequestID(httpkit.AccessLog(telemetry.NewLogger(&logs, "test"))(tenant(mux)))
	r := httptest.NewRequest(http.MethodPost, "/v1/things/t-1", nil)
	r.Header.Set(httpkit.HeaderRequestID, "req-1")
	h.ServeHTTP(httptest.NewRecorder(), r)

	var have map[string]any
	if err := json.Unmarshal(logs.Bytes(), &have); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	want := map[string]any{"msg": "http request", "method": "POST", "path": "/v1/things/t-1", "route": "POST /v1/things/{id}",
		"status": float64(201), "bytes": float64(2), "tenant_id": "tenant-a", "request_id": "req-1"}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s: want %v, have %v", k, v, have[k])
		}
	}
}

func TestInstrumentNamesSpansByRoute(t *testing.T) {
	spans := testenv.Spans(t)
	mux := http.NewServeMux()
	var traceID trace.TraceID
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		traceID = trace.SpanContextFromContext(r.Context()).TraceID()
	})
	// RequestID hands the mux a copy of the request, as real stacks do.
	h := httpkit.Instrument("test", httpkit.RequestID(mux))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/things/t-1", nil))
	if !traceID.IsValid() {
		t.Fatal("the handler ran without a span")
	}
	var names []string
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID() == traceID {
			names = append(names, s.Name())
		}
	}
	if len(names) != 1 || names[0] != "GET /v1/things/{id}" {
		t.Fatalf("want one span named %q, have %v", "GET /v1/things/{id}", names)
	}
}

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		path       string
		ready      func(context.Context) error
		wantStatus int
	}{
		{"healthz", "/healthz", func(context.Context) error { return errors.New("db down") }, 200},
		{"ready", "/readyz", func(context.Context) error { return nil }, 200},
		{"nil ready", "/readyz", nil, 200},
		{"not ready", "/readyz", func(context.Context) error { return errors.New("database: connection refused") }, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			httpkit.Health(mux, tc.ready)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if w.Code != tc.wantStatus {
				t.Fatalf("want %d, have %d", tc.wantStatus, w.Code)
			}
			if tc.wantStatus == 503 {
				if p := readProblem(t, w); slugOf(p) != "not-ready" || !strings.Contains(p.Detail, "connection refused") {
					t.Fatalf("problem: %s", w.Body)
				}
			}
		})
	}
}
