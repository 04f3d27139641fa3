package httpkit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// DefaultBodyLimit is the request body limit services use unless a route
// needs more (uploads).
const DefaultBodyLimit int64 = 1 << 20

// RequestIDFrom is the request id RequestID put in ctx, or "".
func RequestIDFrom(ctx context.Context) string { return telemetry.RequestID(ctx) }

// RequestID keeps a sane incoming X-Request-Id (1–128 characters of letters,
// digits and -_.:/+=) or makes a new one, answers with it and puts it in the
// request's context for logs, problems and outgoing calls.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = uuid.Must(uuid.NewV7()).String()
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.StringSlice("http.request.header.x-request-id", []string{id}))
		r2 := r.WithContext(telemetry.WithRequestID(r.Context(), id))
		next.ServeHTTP(w, r2)
		RecordRoute(r2)
	})
}

func saneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:/+=", c) >= 0) {
			return false
		}
	}
	return true
}

type limitKey struct{}

// BodyLimit caps request bodies at n bytes (DefaultBodyLimit when n <= 0):
// a declared Content-Length over it answers 413 at once, and reading past it
// fails with *http.MaxBytesError, which DecodeJSON and EncodeError turn into
// 413 too. Inner layers that must read the body themselves learn n from the
// context.
func BodyLimit(n int64) func(http.Handler) http.Handler {
	if n <= 0 {
		n = DefaultBodyLimit
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				EncodeError(r.Context(), &http.MaxBytesError{Limit: n}, w)
				return
			}
			r2 := r.WithContext(context.WithValue(r.Context(), limitKey{}, n))
			if r.Body != nil && r.Body != http.NoBody {
				r2.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r2)
			RecordRoute(r2)
		})
	}
}

// bodyLimit is the limit BodyLimit set for the request, or DefaultBodyLimit.
func bodyLimit(ctx context.Context) int64 {
	if n, ok := ctx.Value(limitKey{}).(int64); ok {
		return n
	}
	return DefaultBodyLimit
}

// Recover turns a panic into a logged 500 problem. If the response had
// already begun, the connection is aborted instead so the client cannot
// mistake a truncated answer for a whole one.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			ctx := r.Context()
			slog.ErrorContext(ctx, "httpkit: panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			span := trace.SpanFromContext(ctx)
			span.RecordError(fmt.Errorf("panic: %v", v))
			span.SetStatus(codes.Error, "panic")
			if rec.status != 0 {
				panic(http.ErrAbortHandler)
			}
			WriteProblem(w, r, Problem{Type: ProblemType("internal"), Status: http.StatusInternalServerError, Detail: internalDetail})
		}()
		next.ServeHTTP(rec, r)
	})
}

// AccessLog logs one record per request when it completes: method, path,
// route, status, bytes and duration, with the trace, tenant and request ids
// the logger takes from the context. 5xx answers log at error level.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ctx, scope := telemetry.WithRequestScope(r.Context())
			r2 := r.WithContext(ctx)
			rec := &recorder{ResponseWriter: w}
			defer func() {
				RecordRoute(r2)
				status := rec.status
				v := recover()
				switch {
				case v != nil && status == 0:
					status = http.StatusInternalServerError
				case status == 0:
					status = http.StatusOK
				}
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				logger.LogAttrs(ctx, level, "http request",
					slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", scope.Route()),
					slog.Int("status", status), slog.Int64("bytes", rec.bytes), slog.Duration("took", time.Since(start)))
				if v != nil {
					panic(v)
				}
			}()
			next.ServeHTTP(rec, r2)
		})
	}
}

// RecordRoute tells the request's scope the route pattern a ServeMux matched
// for r. Middlewares that pass a copy of the request inward call it with
// that copy after the inner handler returns, so that the span name and the
// access log outside can name the route.
func RecordRoute(r *http.Request) {
	if s := telemetry.RequestScopeFrom(r.Context()); s != nil {
		s.NoteRoute(r.Pattern)
	}
}

// Instrument traces h with an OpenTelemetry server span per request named
// "METHOD route" (the most specific ServeMux pattern matched, else just the
// method) and records the standard HTTP server metrics, with http.route.
func Instrument(service string, h http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		RecordRoute(r)
		if s := telemetry.RequestScopeFrom(r.Context()); s != nil && s.Route() != "" {
			// otelhttp reads the pattern of the request it passed in (this
			// r) for the metrics' http.route; the muxes set it on copies.
			r.Pattern = s.Route()
		}
		if route := routeOf(r); route != "" {
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
	})
	traced := otelhttp.NewHandler(inner, service, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		if route := routeOf(r); route != "" {
			return r.Method + " " + route
		}
		return r.Method
	}),
		// server.address and server.port would otherwise come from the
		// client's Host header, so any client could mint metric series at
		// will. The service's name with HTTP's default port (which the
		// semantic conventions leave out) fixes both.
		otelhttp.WithServerName(service+":80"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := telemetry.WithRequestScope(r.Context())
		traced.ServeHTTP(w, r.WithContext(ctx))
	})
}

// routeOf is the path part of the route matched for r: "POST /v1/contacts"
// and "/v1/contacts" both give "/v1/contacts".
func routeOf(r *http.Request) string {
	p := r.Pattern
	if s := telemetry.RequestScopeFrom(r.Context()); s != nil && s.Route() != "" {
		p = s.Route()
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimSpace(p[i+1:])
	}
	return p
}

// recorder notes the status and size of a response it passes through.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ValidQuery refuses, with a 400 problem naming the parameter, a query
// string that does not parse (a ";" separator or a broken %-escape, which
// r.URL.Query() would drop silently) or that decodes to invalid UTF-8 or
// NUL characters: nothing downstream (nor PostgreSQL text) can take them,
// and a 500 would blame the server.
func ValidQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r.URL.RawQuery); err != nil {
			EncodeError(r.Context(), err, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func checkQuery(raw string) error {
	if raw == "" {
		return nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return unparsedQuery(raw)
	}
	for name, vs := range values {
		for _, v := range append(vs, name) {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				return apperr.New(apperr.KindBadRequest, "bad-query",
					"query parameter "+quoteParam(name)+" is not valid UTF-8 text")
			}
		}
	}
	return nil
}

// unparsedQuery names the first parameter url.ParseQuery could not read.
func unparsedQuery(raw string) error {
	for part := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(part, "=")
		if strings.Contains(part, ";") {
			return apperr.New(apperr.KindBadRequest, "bad-query", "query parameter "+quoteParam(name)+
				` holds a ";": separate parameters with "&" and write a literal ";" as %3B`)
		}
		if _, err := url.ParseQuery(part); err != nil {
			return apperr.New(apperr.KindBadRequest, "bad-query", "query parameter "+quoteParam(name)+
				` has a broken %-escape: write a literal "%" as %25`)
		}
	}
	return apperr.New(apperr.KindBadRequest, "bad-query", "the query string cannot be read")
}

func quoteParam(name string) string {
	if len(name) > 100 {
		name = name[:100] + "…"
	}
	return strconv.Quote(strings.ToValidUTF8(name, "?"))
}
