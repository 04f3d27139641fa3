package events_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
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
		key  string
	}{"outbox": {req, viaOutbox.ID, "c-1"}, "publish": {ctl, direct.ID, "c-2"}} {
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
		have := map[string]string{}
		for _, kv := range producer.Attributes() {
			have[string(kv.Key)] = kv.Value.Emit()
		}
		for k, v := range map[string]string{"messaging.system": "kafka", "messaging.destination.name": topic,
			"messaging.operation.type": "send", "messaging.kafka.message.key": tc.key} {
			if have[k] != v {
				t.Errorf("%s: producer span %s = %q, want %q", name, k, have[k], v)
			}
		}
		mu.Lock()
		inHandler := handled[tc.id]
		mu.Unlock()
		if inHandler.SpanID() != consumer.SpanContext().SpanID() {
			t.Errorf("%s: the handler runs in span %s, want the consumer span %s", name, inHandler.SpanID(), consumer.SpanContext().SpanID())
		}
	}
}

// Parking a message on the dead-letter topic is a publish like any other:
// a producer span, child of the failed message's consumer span, whose
// context the dead letter carries on. Both follow the messaging conventions.
func TestDeadLetteringIsAProducerSpanOfTheFailedMessage(t *testing.T) {
	rec := testenv.Spans(t)
	ctx := context.Background()
	pool := setupDB(t)
	const topic, group = "crm.deadtraced.events.v1", "deadtraced"
	dlqTopic := events.DLQTopic(group)
	brokers := testenv.Kafka(t, topic, dlqTopic)
	w := events.NewWriter(brokers)
	t.Cleanup(func() { _ = w.Close() })
	c := newConsumer(t, events.ConsumerConfig{Brokers: brokers, Group: group, Topics: []string{topic}, Pool: pool, DLQ: w,
		MaxAttempts: 2, Backoff: 5 * time.Millisecond, Concurrency: 1,
		Handler: func(context.Context, pgx.Tx, events.Event) error { return errors.New("cannot apply") }})
	run(t, c.Run)

	reqCtx, req := otel.Tracer("test").Start(ctx, "POST /v1/contacts")
	e := newEvent(t, topic, uuid.New(), "contact-7", 1)
	if err := events.Publish(reqCtx, w, e); err != nil {
		t.Fatal(err)
	}
	req.End()

	var consumer, dead sdktrace.ReadOnlySpan
	waitFor(t, 30*time.Second, "the dead-letter producer span", func() bool {
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID() != req.SpanContext().TraceID() {
				continue
			}
			switch {
			case s.SpanKind() == trace.SpanKindConsumer:
				consumer = s
			case s.SpanKind() == trace.SpanKindProducer && s.Name() == "send "+dlqTopic:
				dead = s
			}
		}
		return consumer != nil && dead != nil
	})
	if dead.Parent().SpanID() != consumer.SpanContext().SpanID() {
		t.Errorf("the dead-letter span's parent is %s, want the consumer span %s", dead.Parent().SpanID(), consumer.SpanContext().SpanID())
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[string]string {
		m := map[string]string{}
		for _, kv := range s.Attributes() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	for name, tc := range map[string]struct {
		span sdktrace.ReadOnlySpan
		want map[string]string
	}{
		"dead letter": {dead, map[string]string{"messaging.system": "kafka", "messaging.destination.name": dlqTopic,
			"messaging.operation.type": "send", "messaging.operation.name": "send", "messaging.kafka.message.key": "contact-7",
			"messaging.message.id": e.ID.String()}},
		"consumer": {consumer, map[string]string{"messaging.system": "kafka", "messaging.destination.name": topic,
			"messaging.operation.type": "process", "messaging.consumer.group.name": group, "messaging.kafka.message.key": "contact-7",
			"messaging.destination.partition.id": "", "messaging.kafka.offset": "0"}},
	} {
		have := attrs(tc.span)
		for k, v := range tc.want {
			if k == "messaging.destination.partition.id" {
				if _, err := strconv.Atoi(have[k]); err != nil {
					t.Errorf("%s span: %s = %q, want a partition number", name, k, have[k])
				}
				continue
			}
			if have[k] != v {
				t.Errorf("%s span: %s = %q, want %q", name, k, have[k], v)
			}
		}
	}
	parked := readTopic(t, brokers, dlqTopic)
	if len(parked) != 1 {
		t.Fatalf("%d dead letters, want 1", len(parked))
	}
	var traceparent string
	for _, h := range parked[0].Headers {
		if h.Key == "traceparent" {
			traceparent = string(h.Value)
		}
	}
	if want := dead.SpanContext().SpanID().String(); !strings.Contains(traceparent, want) {
		t.Errorf("the dead letter carries traceparent %q, want the dead-letter span %s", traceparent, want)
	}
}
