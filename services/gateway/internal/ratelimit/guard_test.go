package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/gateway/internal/ratelimit"
)

// held is a verifier that refuses every token, each only once release is
// closed, so that requests overlap in verification as a parallel flood's do.
type held struct {
	calls   atomic.Int64
	release chan struct{}
}

func (h *held) Verify(context.Context, string) (auth.Principal, error) {
	h.calls.Add(1)
	<-h.release
	return auth.Principal{}, apperr.New(apperr.KindUnauthorized, "invalid-token", "the token's signature does not verify")
}

// A flood sent all at once reaches the verifier no more often than the
// burst: each request takes its token before it is verified, rather than
// all of them finding the bucket full while none has failed yet.
func TestGuardHoldsAParallelFloodToTheBurst(t *testing.T) {
	v := &held{release: make(chan struct{})}
	g, err := ratelimit.NewGuard(ratelimit.NewClients(0.001, 5, nil), noop.NewMeterProvider())
	if err != nil {
		t.Fatal(err)
	}
	h := g.Middleware(func(string) bool { return false })(auth.Middleware(g.Charging(v))(http.NotFoundHandler()))
	const flood = 200
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		codes   = map[int]int{}
		limited atomic.Int64
	)
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodGet, "/v1/contacts", nil)
			r.Header.Set("Authorization", "Bearer bad-"+strconv.Itoa(i))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code == http.StatusTooManyRequests {
				limited.Add(1)
			}
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		}()
	}
	// Every request is either in the verifier or refused before it.
	for deadline := time.Now().Add(10 * time.Second); v.calls.Load()+limited.Load() < flood; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %d requests in the verifier and %d refused, of %d", v.calls.Load(), limited.Load(), flood)
		}
	}
	close(v.release)
	wg.Wait()
	if n := v.calls.Load(); n != 5 || codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != flood-5 {
		t.Fatalf("want the verifier asked 5 times (the burst) and %d refusals, have %d calls, statuses %v", flood-5, n, codes)
	}
}

// valid accepts every token that starts with "ok".
type valid struct{}

func (valid) Verify(_ context.Context, token string) (auth.Principal, error) {
	if len(token) >= 2 && token[:2] == "ok" {
		return auth.Principal{TenantID: uuid.New(), UserID: "u"}, nil
	}
	return auth.Principal{}, apperr.New(apperr.KindUnauthorized, "invalid-token", "the token's signature does not verify")
}

// A token that verifies gives back what it took: many users behind one
// address signing in do not use up its allowance for failures.
func TestGuardGivesBackTheTokensOfValidRequests(t *testing.T) {
	g, err := ratelimit.NewGuard(ratelimit.NewClients(0.001, 2, nil), noop.NewMeterProvider())
	if err != nil {
		t.Fatal(err)
	}
	h := g.Middleware(func(string) bool { return false })(auth.Middleware(g.Charging(valid{}))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	do := func(token string) int {
		r := httptest.NewRequest(http.MethodGet, "/v1/contacts", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 20 {
		if code := do("ok-" + strconv.Itoa(i)); code != http.StatusOK {
			t.Fatalf("valid token %d: want 200, have %d", i, code)
		}
	}
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if code := do("bad"); code != want {
			t.Fatalf("bad token %d after 20 valid ones: want %d, have %d", i+1, want, code)
		}
	}
}
