package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// Middleware refuses a request over its tenant's rate with a 429 problem and
// Retry-After in whole seconds (at least 1). It runs after admission, which
// puts the tenant in the context.
func Middleware(l *Limiters) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, ok := tenancy.TenantFrom(r.Context())
			if !ok {
				httpkit.EncodeError(r.Context(), apperr.New(apperr.KindInternal, "internal", "rate limit without an admitted tenant"), w)
				return
			}
			wait := l.Reserve(t.ID, t.Record.GetQuotas().GetRequestsPerSecond(), time.Now())
			if wait == 0 {
				next.ServeHTTP(w, r)
				return
			}
			// EncodeError turns retry_after into the Retry-After header.
			secs := max(1, int(math.Ceil(wait.Seconds())))
			httpkit.EncodeError(r.Context(), &apperr.Error{Kind: apperr.KindRateLimited, Slug: "rate-limited",
				Message:    fmt.Sprintf("your tenant is over its limit of %g requests per second", l.Rate(t.Record.GetQuotas().GetRequestsPerSecond())),
				Extensions: map[string]any{"retry_after": secs}}, w)
		})
	}
}
