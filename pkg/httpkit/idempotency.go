package httpkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Idempotency-Key handling headers.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// replayedHeaders are the response headers stored with a key and replayed.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// maxStoredBody bounds the response kept for replay; a larger one releases
// the key instead (the request is then simply not idempotent).
const maxStoredBody = 1 << 20

// ClaimState says who holds an idempotency key.
type ClaimState int

const (
	// ClaimAcquired: the key was free; this request now holds it.
	ClaimAcquired ClaimState = iota
	// ClaimInFlight: another request holds the key and has not finished.
	ClaimInFlight
	// ClaimCompleted: a request finished with the key; its response is stored.
	ClaimCompleted
)

// Claim is the outcome of claiming a key: its state and, when the key was
// already taken, the request hash that took it (and the stored response).
type Claim struct {
	State       ClaimState
	RequestHash []byte
	Response    StoredResponse
}

// StoredResponse is a response kept for replay.
type StoredResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// IdempotencyStore keeps idempotency keys per tenant. Keys older than the
// store's retention count as absent.
type IdempotencyStore interface {
	// Claim takes key for the request with requestHash, or reports who holds it.
	Claim(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte) (Claim, error)
	// Complete stores the response of the request that claimed key.
	Complete(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte, resp StoredResponse) error
	// Release frees a key claimed by the request with requestHash that did
	// not complete, so that the client may retry it.
	Release(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte) error
}

// Idempotency makes POST requests with an Idempotency-Key header safe to
// retry. The same key with the same request (method, path and query, body)
// replays the first response's status, body and Content-Type, Location and
// ETag with "Idempotent-Replayed: true"; the same key with another request
// answers 422 idempotency-key-reuse; a key whose first request is still
// running answers 409 idempotency-key-in-flight. A 5xx answer is not stored,
// so the client may retry. Keys belong to the tenant and the caller that
// scopeOf finds (after authentication): two users of one tenant who pick the
// same key never see each other's responses. A request without a scope
// passes through untouched.
func Idempotency(store IdempotencyStore, scopeOf func(*http.Request) (tenant uuid.UUID, caller string, ok bool)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get(HeaderIdempotencyKey)
			if r.Method != http.MethodPost || key == "" {
				next.ServeHTTP(w, r)
				return
			}
			tenant, caller, ok := scopeOf(r)
			if !ok || tenant == uuid.Nil {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			if !validKey(key) {
				EncodeError(ctx, apperr.New(apperr.KindBadRequest, "idempotency-key-invalid",
					"Idempotency-Key must be 1 to 255 visible ASCII characters"), w)
				return
			}
			// A key is visible ASCII without spaces, so the last space splits
			// the stored key unambiguously (and PostgreSQL text holds no NUL).
			key = caller + " " + key
			body, err := readBody(w, r)
			if err != nil {
				EncodeError(ctx, err, w)
				return
			}
			hash := requestHash(r, body)
			claim, err := store.Claim(ctx, tenant, key, hash)
			if err != nil {
				EncodeError(ctx, &apperr.Error{Kind: apperr.KindUnavailable, Slug: "unavailable",
					Message: "the request could not be checked against its Idempotency-Key; try again", Cause: err}, w)
				return
			}
			if claim.State != ClaimAcquired {
				if !bytes.Equal(claim.RequestHash, hash) {
					EncodeError(ctx, apperr.New(apperr.KindInvalid, "idempotency-key-reuse",
						"this Idempotency-Key was used for a different request; use a new key"), w)
					return
				}
				if claim.State == ClaimInFlight {
					w.Header().Set("Retry-After", "1")
					EncodeError(ctx, apperr.New(apperr.KindConflict, "idempotency-key-in-flight",
						"a request with this Idempotency-Key is still being processed; retry shortly"), w)
					return
				}
				replay(w, claim.Response)
				return
			}

			r.Body = io.NopCloser(bytes.NewReader(body))
			capture := &capturer{ResponseWriter: w}
			completed := false
			defer func() {
				// Runs after a panic too: a claim nobody completes must not
				// block the key until its lease runs out.
				if completed {
					return
				}
				bg := context.WithoutCancel(ctx)
				if err := store.Release(bg, tenant, key, hash); err != nil {
					slog.ErrorContext(ctx, "httpkit: release idempotency key", "err", err)
				}
			}()
			next.ServeHTTP(capture, r)
			RecordRoute(r)
			status := capture.status
			if status == 0 {
				status = http.StatusOK
			}
			if status >= 500 || capture.overflow {
				return
			}
			// The effect happened: from here on the key must never be released,
			// or a client retrying a lost answer would run the request twice. If
			// the answer cannot be stored, the claim answers 409 until its lease
			// ends.
			completed = true
			resp := StoredResponse{Status: status, Header: http.Header{}, Body: capture.body.Bytes()}
			for _, h := range replayedHeaders {
				if v := capture.Header().Values(h); len(v) > 0 {
					resp.Header[h] = v
				}
			}
			bg := context.WithoutCancel(ctx)
			for attempt := 1; ; attempt++ {
				err := store.Complete(bg, tenant, key, hash, resp)
				if err == nil {
					break
				}
				if attempt == 3 {
					slog.ErrorContext(ctx, "httpkit: store idempotent response", "err", err)
					break
				}
				time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
			}
		})
	}
}

func validKey(k string) bool {
	if len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// readBody reads the whole body within the limit BodyLimit set (or
// DefaultBodyLimit).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bodyLimit(r.Context())))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, tooLargeError(tooLarge)
		}
		return nil, apperr.New(apperr.KindBadRequest, "unreadable-body", "the request body could not be read")
	}
	return body, nil
}

func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	io.WriteString(h, r.Method)
	h.Write([]byte{0})
	io.WriteString(h, r.URL.EscapedPath())
	h.Write([]byte{'?'})
	io.WriteString(h, r.URL.RawQuery)
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

func replay(w http.ResponseWriter, resp StoredResponse) {
	h := w.Header()
	for k, vs := range resp.Header {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	h.Set(HeaderReplayed, "true")
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// capturer passes a response through and keeps a copy of it for replay.
type capturer struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (c *capturer) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capturer) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.overflow {
		if c.body.Len()+len(b) > maxStoredBody {
			c.overflow = true
			c.body = bytes.Buffer{}
		} else {
			c.body.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (c *capturer) Unwrap() http.ResponseWriter { return c.ResponseWriter }
