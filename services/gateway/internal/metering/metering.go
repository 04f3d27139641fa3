// Package metering counts the requests each tenant makes of the gateway.
package metering

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// InstrumentName is the per-tenant request counter.
const InstrumentName = "rapport.gateway.requests"

// Middleware counts every authenticated request by tenant and response
// status, refused ones included, so a tenant's rejected traffic shows too.
// It runs after auth.Middleware; verified tokens keep the tenant attribute's
// cardinality bounded by the provisioned tenants.
func Middleware(mp metric.MeterProvider) (func(http.Handler) http.Handler, error) {
	counter, err := mp.Meter("github.com/rapportcrm/rapport/services/gateway").Int64Counter(InstrumentName,
		metric.WithDescription("Requests received per tenant and response status."), metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.PrincipalFrom(r.Context())
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				counter.Add(r.Context(), 1, metric.WithAttributes(
					attribute.String("tenant_id", p.TenantID.String()),
					attribute.Int("http.response.status_code", sw.code())))
			}()
			next.ServeHTTP(sw, r)
		})
	}, nil
}

// statusWriter remembers the status; Unwrap keeps flushing and hijacking
// (used by the reverse proxy) reachable through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
