package telemetry

import (
	"context"
	"sync"
)

type ctxKey int

const (
	tenantKey ctxKey = iota
	requestKey
	scopeKey
)

// WithTenantID returns ctx carrying the tenant id that log records made with
// it report as tenant_id. It also tells the request's scope, if any, so that
// outer layers (the access log) learn the tenant an inner layer verified.
func WithTenantID(ctx context.Context, tenantID string) context.Context {
	if s := RequestScopeFrom(ctx); s != nil {
		s.setTenantID(tenantID)
	}
	return context.WithValue(ctx, tenantKey, tenantID)
}

// TenantID is the tenant id carried by ctx, or "".
func TenantID(ctx context.Context) string {
	s, _ := ctx.Value(tenantKey).(string)
	return s
}

// WithRequestID returns ctx carrying the request id that log records made
// with it report as request_id.
func WithRequestID(ctx context.Context, requestID string) context.Context {
	return context.WithValue(ctx, requestKey, requestID)
}

// RequestID is the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestKey).(string)
	return s
}

// RequestScope is what the inner layers of one HTTP request learn (the
// tenant, the matched route) and the outer layers report: middlewares pass
// copies of the request inward, so a context value set deep inside is
// otherwise invisible to the access log and the server span outside.
type RequestScope struct {
	mu       sync.Mutex
	tenantID string
	route    string
}

// WithRequestScope returns ctx with a fresh scope, or ctx unchanged when it
// already has one.
func WithRequestScope(ctx context.Context) (context.Context, *RequestScope) {
	if s := RequestScopeFrom(ctx); s != nil {
		return ctx, s
	}
	s := &RequestScope{}
	return context.WithValue(ctx, scopeKey, s), s
}

// RequestScopeFrom is the scope in ctx, or nil.
func RequestScopeFrom(ctx context.Context) *RequestScope {
	s, _ := ctx.Value(scopeKey).(*RequestScope)
	return s
}

func (s *RequestScope) setTenantID(id string) {
	s.mu.Lock()
	s.tenantID = id
	s.mu.Unlock()
}

// TenantID is the tenant some layer of the request recorded, or "".
func (s *RequestScope) TenantID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenantID
}

// NoteRoute records the matched route pattern. The first one noted wins:
// layers note it on the way out, so the innermost (most specific) mux's
// pattern arrives first.
func (s *RequestScope) NoteRoute(pattern string) {
	if pattern == "" {
		return
	}
	s.mu.Lock()
	if s.route == "" {
		s.route = pattern
	}
	s.mu.Unlock()
}

// Route is the noted route pattern, or "".
func (s *RequestScope) Route() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.route
}
