package service

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

type instrumenting struct {
	next     Service
	calls    metric.Int64Counter
	duration metric.Float64Histogram
}

// WithMetrics counts calls and records their latency per method and outcome.
func WithMetrics() func(Service) Service {
	m := otel.Meter("github.com/rapportcrm/rapport/services/contacts")
	calls, _ := m.Int64Counter("contacts.calls", metric.WithDescription("contacts use-case calls"))
	dur, _ := m.Float64Histogram("contacts.call.duration", metric.WithUnit("s"))
	return func(next Service) Service { return &instrumenting{next: next, calls: calls, duration: dur} }
}

func (m *instrumenting) record(ctx context.Context, method string, begin time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if e, ok := apperr.As(err); ok {
			outcome = e.Slug
		}
	}
	attrs := metric.WithAttributes(attribute.String("method", method), attribute.String("outcome", outcome))
	m.calls.Add(ctx, 1, attrs)
	m.duration.Record(ctx, time.Since(begin).Seconds(), attrs)
}

func (m *instrumenting) CreateContact(ctx context.Context, f domain.Fields) (c *domain.Contact, err error) {
	defer func(b time.Time) { m.record(ctx, "CreateContact", b, err) }(time.Now())
	return m.next.CreateContact(ctx, f)
}

func (m *instrumenting) GetContact(ctx context.Context, id uuid.UUID) (c *domain.Contact, err error) {
	defer func(b time.Time) { m.record(ctx, "GetContact", b, err) }(time.Now())
	return m.next.GetContact(ctx, id)
}

func (m *instrumenting) UpdateContact(ctx context.Context, id uuid.UUID, ifMatch int64, p domain.Patch) (c *domain.Contact, err error) {
	defer func(b time.Time) { m.record(ctx, "UpdateContact", b, err) }(time.Now())
	return m.next.UpdateContact(ctx, id, ifMatch, p)
}

func (m *instrumenting) DeleteContact(ctx context.Context, id uuid.UUID, ifMatch int64) (err error) {
	defer func(b time.Time) { m.record(ctx, "DeleteContact", b, err) }(time.Now())
	return m.next.DeleteContact(ctx, id, ifMatch)
}

func (m *instrumenting) ListContacts(ctx context.Context, q ListQuery) (r ListResult, err error) {
	defer func(b time.Time) { m.record(ctx, "ListContacts", b, err) }(time.Now())
	return m.next.ListContacts(ctx, q)
}
