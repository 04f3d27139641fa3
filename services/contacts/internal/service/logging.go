package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

type logging struct {
	next Service
	log  *slog.Logger
}

// WithLogging logs every call with its duration and outcome: successes at
// debug (the access log already has one line per request), expected
// business errors at info, failures at error.
func WithLogging(log *slog.Logger) func(Service) Service {
	return func(next Service) Service { return &logging{next: next, log: log} }
}

func (l *logging) done(ctx context.Context, method string, begin time.Time, err error, attrs ...any) {
	attrs = append(attrs, "method", method, "took", time.Since(begin))
	level := slog.LevelDebug
	if err != nil {
		attrs = append(attrs, "err", err)
		level = slog.LevelInfo
		if apperr.KindOf(err) == apperr.KindInternal {
			level = slog.LevelError
		}
	}
	l.log.Log(ctx, level, "contacts call", attrs...)
}

func (l *logging) CreateContact(ctx context.Context, f domain.Fields) (c *domain.Contact, err error) {
	defer func(b time.Time) { l.done(ctx, "CreateContact", b, err) }(time.Now())
	return l.next.CreateContact(ctx, f)
}

func (l *logging) GetContact(ctx context.Context, id uuid.UUID) (c *domain.Contact, err error) {
	defer func(b time.Time) { l.done(ctx, "GetContact", b, err, "id", id) }(time.Now())
	return l.next.GetContact(ctx, id)
}

func (l *logging) UpdateContact(ctx context.Context, id uuid.UUID, ifMatch int64, p domain.Patch) (c *domain.Contact, err error) {
	defer func(b time.Time) { l.done(ctx, "UpdateContact", b, err, "id", id) }(time.Now())
	return l.next.UpdateContact(ctx, id, ifMatch, p)
}

func (l *logging) DeleteContact(ctx context.Context, id uuid.UUID, ifMatch int64) (err error) {
	defer func(b time.Time) { l.done(ctx, "DeleteContact", b, err, "id", id) }(time.Now())
	return l.next.DeleteContact(ctx, id, ifMatch)
}

func (l *logging) ListContacts(ctx context.Context, q ListQuery) (r ListResult, err error) {
	defer func(b time.Time) { l.done(ctx, "ListContacts", b, err, "limit", q.Limit) }(time.Now())
	return l.next.ListContacts(ctx, q)
}
