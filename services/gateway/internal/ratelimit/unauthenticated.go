package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// UnauthenticatedInstrument counts requests that failed authentication
// ("failed": no token, or one the verifier refused) and those refused over
// their address's limit before any verification ("limited").
const UnauthenticatedInstrument = "rapport.gateway.unauthenticated"

// takenKey carries the token Middleware took from the client's bucket to
// Charging, which gives it back when the request authenticates.
type takenKey struct{}

// taken is a request's token, given back at most once.
type taken struct {
	t        Taken
	returned bool
}

// Guard puts Clients in front of authentication.
type Guard struct {
	clients *Clients
	counter metric.Int64Counter
	failed  metric.MeasurementOption
	limited metric.MeasurementOption
}

// NewGuard counts through mp.
func NewGuard(c *Clients, mp metric.MeterProvider) (*Guard, error) {
	counter, err := mp.Meter("github.com/rapportcrm/rapport/services/gateway").Int64Counter(UnauthenticatedInstrument,
		metric.WithDescription("Requests that failed authentication (failed) or were refused before it, over their address's limit (limited)."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	return &Guard{clients: c, counter: counter,
		failed:  metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed"))),
		limited: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "limited")))}, nil
}

// Middleware takes a token from the bucket of the request's address before
// anything is verified, and refuses the request with a 429 problem and
// Retry-After when there is none, verifying nothing, unless its bearer
// token is one the verifier remembers as valid, so a client that is known
// stays served. A request without a token keeps its token taken (auth
// answers 401); Charging gives the token back if the request's token
// verifies. Taking first, rather than asking whether a token is left and
// charging a failure after verification, holds parallel requests to the
// bucket too.
func (g *Guard) Middleware(remembered func(token string) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			addr := g.clients.Addr(r)
			token, ok := auth.Bearer(r)
			t, wait := g.clients.Take(addr, now)
			if wait > 0 {
				if ok && remembered(token) {
					next.ServeHTTP(w, r)
					return
				}
				g.counter.Add(r.Context(), 1, g.limited)
				secs := max(1, int(math.Ceil(wait.Seconds())))
				// EncodeError turns retry_after into the Retry-After header.
				httpkit.EncodeError(r.Context(), &apperr.Error{Kind: apperr.KindRateLimited, Slug: "rate-limited",
					Message: fmt.Sprintf("too many requests without a valid token from your address (at most %g a second); try again in %d s",
						g.clients.Rate(), secs),
					Extensions: map[string]any{"retry_after": secs}}, w)
				return
			}
			if !ok {
				g.counter.Add(r.Context(), 1, g.failed)
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), takenKey{}, &taken{t: t})))
		})
	}
}

// Charging is v, settling the token Middleware took for the request: a
// token v refuses as unauthorized keeps it and is counted as failed; one v
// accepts gives it back, and so does a key set that cannot be fetched (not
// the client's doing).
func (g *Guard) Charging(v auth.Verifier) auth.Verifier {
	return auth.VerifierFunc(func(ctx context.Context, token string) (auth.Principal, error) {
		p, err := v.Verify(ctx, token)
		if err != nil && apperr.KindOf(err) == apperr.KindUnauthorized {
			g.counter.Add(ctx, 1, g.failed)
			return p, err
		}
		if t, ok := ctx.Value(takenKey{}).(*taken); ok && !t.returned {
			t.returned = true
			t.t.Return()
		}
		return p, err
	})
}
