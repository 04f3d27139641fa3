package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/pkg/testenv"
)

// One trace follows a user action: the request span parents the relay's
// publish span (through the outbox row), which parents the consumer's span
// (through the Kafka headers). Publish without the outbox joins the same way.
func TestTraceFollowsTheEventFromRequestToConsumer(t *testing.T) {
	rec := testenv.Spans(t)
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.traced.events.v1", "traced"
	brokers := testenv.Kafka(t, topic, events.DLQTopic(group))
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })
	tenant := uuid.New()

	var mu sync.Mutex
	handled := map[uuid.UUID]trace.SpanContext{}
	c := newConsumer(t, events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool, DLQ: w,
		Handler: func(ctx context.Context, tx pgx.Tx, e events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			handled[e.ID] = trace.SpanContextFromContext(ctx)
			return nil
		}})
	run(t, c.Run)
	run(t, events.NewRelay(pool, w, events.RelayOptions{Service: "traced"}).Run)

	tracer := otel.Tracer("test")
	reqCtx, req := tracer.Start(ctx, "POST /v1/contacts")
	viaOutbox := newEvent(t, topic, tenant, "c-1", 1)
	if err := postgres.InTenant(reqCtx, pool, tenant, func(tx pgx.Tx) error { return events.Append(reqCtx, tx, viaOutbox) }); err != nil {
		t.Fatal(err)
	}
	req.End()
	ctlCtx, ctl := tracer.Start(ctx, "provision tenant")
	direct := newEvent(t, topic, tenant, "c-2", 1)
	if err := events.Publish(ctlCtx, w, direct); err != nil {
		t.Fatal(err)
	}
	ctl.End()

	waitFor(t, 30*time.Second, "both events handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	})
	for name, tc := range map[string]struct {
		root trace.Span
		id   uuid.UUID
	}{"outbox": {req, viaOutbox.ID}, "publish": {ctl, direct.ID}} {
		traceID := tc.root.SpanContext().TraceID()
		var producer, consumer sdktrace.ReadOnlySpan
		waitFor(t, 5*time.Second, name+" spans ended", func() bool {
			producer, consumer = nil, nil
			for _, s := range rec.Ended() {
				if s.SpanContext().TraceID() != traceID {
					continue
				}
				switch s.SpanKind() {
				case trace.SpanKindProducer:
					producer = s
				case trace.SpanKindConsumer:
					consumer = s
				}
			}
			return producer != nil && consumer != nil
		})
		if producer.Parent().SpanID() != tc.root.SpanContext().SpanID() {
			t.Errorf("%s: the producer span's parent is %s, want the caller's span %s", name, producer.Parent().SpanID(), tc.root.SpanContext().SpanID())
		}
		if consumer.Parent().SpanID() != producer.SpanContext().SpanID() || !consumer.Parent().IsRemote() {
			t.Errorf("%s: the consumer span's parent is %s, want the producer span %s", name, consumer.Parent().SpanID(), producer.SpanContext().SpanID())
		}
		if producer.Name() != "send "+topic || consumer.Name() != "process "+topic {
			t.Errorf("%s: span names %q, %q", name, producer.Name(), consumer.Name())
		}
		mu.Lock()
		inHandler := handled[tc.id]
		mu.Unlock()
		if inHandler.SpanID() != consumer.SpanContext().SpanID() {
			t.Errorf("%s: the handler runs in span %s, want the consumer span %s", name, inHandler.SpanID(), consumer.SpanContext().SpanID())
		}
	}
}
