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
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/postgres"
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
	// ClaimAnswerLost: a request with the key took effect, but its process
	// stopped before the response was stored, and its claim lapsed.
	ClaimAnswerLost
)

// Claim is the outcome of claiming a key: its state and, when acquired, the
// token of this claim; when the key was already taken, the request hash that
// took it, and the stored response or what the lost answer's request did.
type Claim struct {
	State       ClaimState
	Token       uuid.UUID
	RequestHash []byte
	Response    StoredResponse
	// EffectAt and Records: when the lost answer's request committed, and the
	// records it changed.
	EffectAt time.Time
	Records  []postgres.EffectRecord
}

// StoredResponse is a response kept for replay.
type StoredResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// IdempotencyStore keeps idempotency keys per tenant. Keys older than the
// store's retention count as absent. A claim holds its key for the store's
// lease; one not renewed for that long may be taken over, unless its
// request took effect (a write in its context marked it: see
// postgres.IdempotencyClaim).
type IdempotencyStore interface {
	// Claim takes key for the request with requestHash, or reports who holds it.
	Claim(ctx context.Context, tenant uuid.UUID, key string, requestHash []byte) (Claim, error)
	// Lease is how long a claim holds its key without a renewal.
	Lease() time.Duration
	// Renew extends the lease of the claim token; held is false when the
	// claim is no longer token's.
	Renew(ctx context.Context, tenant uuid.UUID, key string, token uuid.UUID) (held bool, err error)
	// Complete stores the response of the request whose claim is token.
	Complete(ctx context.Context, tenant uuid.UUID, key string, token uuid.UUID, resp StoredResponse) error
	// Release frees a key whose claim token did not complete, so that the
	// client may retry it, unless its request took effect: then the claim
	// lapses at once, and a retry learns that the answer was lost.
	Release(ctx context.Context, tenant uuid.UUID, key string, token uuid.UUID) error
}

// Idempotency makes POST requests with an Idempotency-Key header safe to
// retry. The same key with the same request (method, path and query, body,
// Content-Type and If-Match) replays the first response's status, body and
// Content-Type, Location and ETag with "Idempotent-Replayed: true"; the same
// key with another request answers 422 idempotency-key-reuse; a key whose
// first request is still running answers 409 idempotency-key-in-flight. A
// 5xx answer is not stored, so the client may retry. It serves JSON APIs: a
// body not declared JSON is refused (415) before its key is claimed. Keys
// belong to the tenant and the caller that scopeOf finds (after
// authentication): two users of one tenant who pick the same key never see
// each other's responses. A request without a scope passes through
// untouched.
//
// A process may die between a request's effect and storing its answer. The
// running request renews its claim's lease, so a claim left behind is taken
// over a lease later (seconds, not minutes), and the request runs again;
// but when its effect had committed (the writes marked the claim, see
// postgres.IdempotencyClaim), nothing runs again: the retry answers 409
// idempotency-key-answer-lost, saying when it was carried out and naming
// the records it changed (the events' types and subjects).
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
			// A body that is not declared JSON would be refused by the
			// route's decoder; refused before the key is claimed, the 415 is
			// not stored and replayed to the request sent again corrected.
			if len(body) > 0 {
				if err := requireJSON(r); err != nil {
					EncodeError(ctx, err, w)
					return
				}
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
				switch claim.State {
				case ClaimInFlight:
					w.Header().Set("Retry-After", "1")
					EncodeError(ctx, apperr.New(apperr.KindConflict, "idempotency-key-in-flight",
						"a request with this Idempotency-Key is still being processed; retry shortly"), w)
				case ClaimAnswerLost:
					EncodeError(ctx, answerLost(claim), w)
				default:
					replay(w, claim.Response)
				}
				return
			}

			held := &postgres.IdempotencyClaim{Tenant: tenant, Key: key, Token: claim.Token}
			r = r.WithContext(postgres.WithIdempotencyClaim(ctx, held))
			r.Body = io.NopCloser(bytes.NewReader(body))
			capture := &capturer{ResponseWriter: w}
			completed := false
			stopRenewing := keepClaim(ctx, store, held)
			defer func() {
				// Runs after a panic too: a claim nobody completes must not
				// block the key until its lease runs out.
				stopRenewing()
				held.End()
				if completed {
					return
				}
				bg := context.WithoutCancel(ctx)
				if err := store.Release(bg, tenant, key, claim.Token); err != nil {
					slog.ErrorContext(ctx, "httpkit: release idempotency key", "err", err)
				}
			}()
			next.ServeHTTP(capture, r)
			stopRenewing()
			held.End()
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
			// ends, and then answer-lost if its writes marked it.
			completed = true
			resp := StoredResponse{Status: status, Header: http.Header{}, Body: capture.body.Bytes()}
			for _, h := range replayedHeaders {
				if v := capture.Header().Values(h); len(v) > 0 {
					resp.Header[h] = v
				}
			}
			bg := context.WithoutCancel(ctx)
			for attempt := 1; ; attempt++ {
				err := store.Complete(bg, tenant, key, claim.Token, resp)
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

// keepClaim renews held's lease every third of it until the returned stop is
// called, so that a live request keeps its key however long it runs. Most
// requests end before the first renewal, and start no goroutine at all.
func keepClaim(ctx context.Context, store IdempotencyStore, held *postgres.IdempotencyClaim) (stop func()) {
	every := store.Lease() / 3
	if every <= 0 {
		return func() {}
	}
	bg := context.WithoutCancel(ctx)
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	renew := func() {
		rctx, cancel := context.WithTimeout(bg, every)
		still, err := store.Renew(rctx, held.Tenant, held.Key, held.Token)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err != nil {
			slog.ErrorContext(ctx, "httpkit: renew idempotency key", "err", err)
		} else if !still {
			// Its writes now fail rather than carry the request out twice.
			slog.WarnContext(ctx, "httpkit: idempotency key taken over while its request ran")
		}
		timer.Reset(every)
	}
	mu.Lock()
	timer = time.AfterFunc(every, renew)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}

// answerLost is the answer to a retry of a request that took effect but was
// never answered: it is not carried out again.
func answerLost(c Claim) error {
	records := c.Records
	if records == nil {
		records = []postgres.EffectRecord{}
	}
	at := c.EffectAt.UTC().Format(time.RFC3339)
	return &apperr.Error{Kind: apperr.KindConflict, Slug: "idempotency-key-answer-lost",
		Message: "the request with this Idempotency-Key was carried out at " + at +
			", but the service stopped before answering; it is not carried out again: read the records it changed",
		Extensions: map[string]any{"committed_at": at, "records": records}}
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

// requestHash identifies a request by what its answer depends on: method,
// path and query, body, and the headers that can change the answer of the
// same body (Content-Type: 415; If-Match: 412 on a POST that takes it).
// Without If-Match and with no Content-Type or application/json, the
// common case, the headers add nothing, so keys stored by a release that
// did not hash them still replay; otherwise they come first, behind a
// marker no method can begin with (it holds a NUL).
func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	ct, ifMatch := r.Header.Get("Content-Type"), strings.Join(r.Header.Values("If-Match"), ", ")
	if (ct != "" && ct != ContentTypeJSON) || ifMatch != "" {
		// Header values hold no NUL (net/http refuses them), so NUL
		// separates them unambiguously.
		io.WriteString(h, "headers\x00Content-Type: "+ct+"\x00If-Match: "+ifMatch+"\x00")
	}
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
