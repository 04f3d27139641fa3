package httpkit

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// WWWAuthenticate is the challenge sent with every 401.
const WWWAuthenticate = `Bearer realm="rapport"`

// kindStatus is the one mapping from error kinds to HTTP status codes, with
// the slug used when an error brings none.
var kindStatus = map[apperr.Kind]statusSlug{
	apperr.KindInvalid:              {http.StatusUnprocessableEntity, "validation"},
	apperr.KindBadRequest:           {http.StatusBadRequest, "bad-request"},
	apperr.KindUnauthorized:         {http.StatusUnauthorized, "unauthenticated"},
	apperr.KindForbidden:            {http.StatusForbidden, "forbidden"},
	apperr.KindNotFound:             {http.StatusNotFound, "not-found"},
	apperr.KindConflict:             {http.StatusConflict, "conflict"},
	apperr.KindPreconditionFailed:   {http.StatusPreconditionFailed, "precondition-failed"},
	apperr.KindPreconditionRequired: {http.StatusPreconditionRequired, "precondition-required"},
	apperr.KindTooLarge:             {http.StatusRequestEntityTooLarge, "too-large"},
	apperr.KindRateLimited:          {http.StatusTooManyRequests, "rate-limited"},
	apperr.KindUnavailable:          {http.StatusServiceUnavailable, "unavailable"},
	apperr.KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported-media-type"},
}

type statusSlug struct {
	status int
	slug   string
}

const internalDetail = "an unexpected error occurred; it has been logged"

// sqlstateClaimTakenOver fails the write of a request whose Idempotency-Key
// another request took over while it ran (pkg/postgres migration 00003).
const sqlstateClaimTakenOver = "RP412"

// EncodeError is the go-kit ErrorEncoder of every service and the only place
// error kinds become HTTP status codes. Errors of no known kind answer 500
// with a generic detail; the real error goes to the log with ctx, never to
// the client. The write of a request whose Idempotency-Key was taken over
// (SQLSTATE RP412) answers 409 idempotency-key-taken-over.
func EncodeError(ctx context.Context, err error, w http.ResponseWriter) {
	writeProblem(w, problemFor(ctx, err, w.Header()))
}

// problemFor maps err to its problem and sets the headers its status needs.
func problemFor(ctx context.Context, err error, h http.Header) Problem {
	if err == nil {
		err = errors.New("httpkit: EncodeError called without an error")
	}
	e, ok := apperr.As(err)
	if !ok {
		var (
			tooLarge *http.MaxBytesError
			pgErr    *pgconn.PgError
		)
		switch {
		case errors.As(err, &tooLarge):
			e = tooLargeError(tooLarge)
		case errors.As(err, &pgErr) && pgErr.Code == sqlstateClaimTakenOver:
			e = &apperr.Error{Kind: apperr.KindConflict, Slug: "idempotency-key-taken-over",
				Message: "this request ran so long that a retry with its Idempotency-Key took the key over; it was not carried out here, " +
					"the retry carries it out: repeat with the same key for that answer", Cause: err}
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			// The request ran out of time (or its client left): not a bug.
			slog.WarnContext(ctx, "httpkit: request abandoned", "err", err)
			e = apperr.New(apperr.KindUnavailable, "timeout", "the request did not complete in time; try again")
		}
	}
	p := Problem{Extensions: map[string]any{}}
	if id := telemetry.RequestID(ctx); id != "" {
		p.Extensions["request_id"] = id
	}
	var m statusSlug
	known := false
	if e != nil {
		m, known = kindStatus[e.Kind]
	}
	if !known {
		slog.ErrorContext(ctx, "httpkit: internal error", "err", err)
		span := trace.SpanFromContext(ctx)
		span.RecordError(err)
		span.SetStatus(codes.Error, "internal error")
		p.Type, p.Status, p.Detail = ProblemType("internal"), http.StatusInternalServerError, internalDetail
		return p
	}
	for k, v := range e.Extensions {
		p.Extensions[k] = v
	}
	slug := e.Slug
	if slug == "" {
		slug = m.slug
	}
	p.Type, p.Status, p.Detail, p.Errors = ProblemType(slug), m.status, e.Message, e.Fields
	switch e.Kind {
	case apperr.KindUnauthorized:
		if h.Get("WWW-Authenticate") == "" {
			h.Set("WWW-Authenticate", WWWAuthenticate)
		}
	case apperr.KindUnsupportedMediaType:
		setAcceptHeader(err, h)
	case apperr.KindRateLimited:
		if secs, ok := seconds(e.Extensions["retry_after"]); ok {
			h.Set("Retry-After", strconv.FormatInt(secs, 10))
		}
	}
	return p
}

func tooLargeError(e *http.MaxBytesError) *apperr.Error {
	return &apperr.Error{Kind: apperr.KindTooLarge, Slug: "too-large",
		Message:    "the request body is larger than " + strconv.FormatInt(e.Limit, 10) + " bytes",
		Extensions: map[string]any{"limit": e.Limit}, Cause: e}
}

// seconds reads a retry_after extension as whole seconds, rounding up.
func seconds(v any) (int64, bool) {
	var f float64
	switch v := v.(type) {
	case int:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint:
		f = float64(v)
	case float32:
		f = float64(v)
	case float64:
		f = v
	case time.Duration:
		f = v.Seconds()
	case string:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		f = n
	default:
		return 0, false
	}
	if math.IsNaN(f) || f < 0 || f > math.MaxInt32 {
		return 0, false
	}
	return int64(math.Ceil(f)), true
}
