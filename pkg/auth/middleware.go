package auth

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// Middleware admits only requests with a bearer token v verifies; it puts
// the principal in the context (and its tenant in the logs and the span).
// Others get a 401 problem with a Bearer challenge.
func Middleware(v Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			token, ok := bearer(r.Header.Get("Authorization"))
			if !ok {
				httpkit.EncodeError(ctx, apperr.New(apperr.KindUnauthorized, "unauthenticated",
					"this API needs an Authorization: Bearer token"), w)
				return
			}
			p, err := v.Verify(ctx, token)
			if err != nil {
				if apperr.KindOf(err) == apperr.KindUnauthorized {
					w.Header().Set("WWW-Authenticate", httpkit.WWWAuthenticate+`, error="invalid_token"`)
				}
				httpkit.EncodeError(ctx, err, w)
				return
			}
			trace.SpanFromContext(ctx).SetAttributes(attribute.String("rapport.tenant_id", p.TenantID.String()))
			ctx = telemetry.WithTenantID(WithPrincipal(ctx, p), p.TenantID.String())
			r2 := r.WithContext(ctx)
			next.ServeHTTP(w, r2)
			httpkit.RecordRoute(r2)
		})
	}
}

// Bearer is the token of r's "Authorization: Bearer <token>" header; ok is
// false when r carries none.
func Bearer(r *http.Request) (token string, ok bool) { return bearer(r.Header.Get("Authorization")) }

// bearer extracts the token of an "Authorization: Bearer <token>" value.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
