package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
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

// clientKey carries the client address from Unauthenticated to Charging.
type clientKey struct{}

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

// Middleware refuses a request from an address over its limit of failed
// authentications with a 429 problem and Retry-After, verifying nothing,
// unless its bearer token is one the verifier remembers as valid, so a
// client that is known stays served. It runs before authentication and
// charges a request without a token at once; Charging charges one whose
// token the verifier refuses.
func (g *Guard) Middleware(remembered func(token string) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			addr := g.clients.Addr(r)
			token, ok := auth.Bearer(r)
			if wait := g.clients.Wait(addr, now); wait > 0 && !(ok && remembered(token)) {
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
				g.fail(r.Context(), addr, now)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, addr)))
		})
	}
}

// Charging is v, counting every token it refuses as unauthorized against
// the request's address (a key set that cannot be fetched is not the
// client's doing and is not counted).
func (g *Guard) Charging(v auth.Verifier) auth.Verifier {
	return auth.VerifierFunc(func(ctx context.Context, token string) (auth.Principal, error) {
		p, err := v.Verify(ctx, token)
		if err != nil && apperr.KindOf(err) == apperr.KindUnauthorized {
			if addr, ok := ctx.Value(clientKey{}).(netip.Addr); ok {
				g.fail(ctx, addr, time.Now())
			}
		}
		return p, err
	})
}

func (g *Guard) fail(ctx context.Context, addr netip.Addr, now time.Time) {
	g.counter.Add(ctx, 1, g.failed)
	g.clients.Fail(addr, now)
}
