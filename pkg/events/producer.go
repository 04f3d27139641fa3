package events

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

const instrumentation = "github.com/rapportcrm/rapport/pkg/events"

// Writer is what the relay and Publish need from a Kafka producer;
// *kafka.Writer satisfies it.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// NewWriter returns a producer for messages that name their own topic.
//
// RequireAll: an acknowledged event survives the loss of a broker, which the
// outbox relies on before it deletes a row. Hash balancing keeps one
// aggregate's events on one partition. BatchSize is above the relay's default
// batch so that one relay batch goes to each partition as one produce request:
// it is then appended whole or not at all, and a retry cannot reorder it.
func NewWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		BatchSize:              1000,
		AllowAutoTopicCreation: true,
	}
}

// Publish sends events straight to Kafka, outside any database transaction.
// It is for control-plane callers (the tenancy provisioner) whose source of
// truth is not a service database; services use Append and the relay.
func Publish(ctx context.Context, w Writer, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(evs))
	spans := make([]trace.Span, len(evs))
	for i, e := range evs {
		var sctx context.Context
		sctx, spans[i] = startProducerSpan(ctx, e)
		msgs[i] = ToMessage(sctx, e)
	}
	err := w.WriteMessages(ctx, msgs...)
	endProducerSpans(spans, err)
	return err
}

// startProducerSpan starts the span whose context the message carries, so the
// consumer's span becomes its child.
func startProducerSpan(ctx context.Context, e Event) (context.Context, trace.Span) {
	return otel.Tracer(instrumentation).Start(ctx, "send "+e.Topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(e.Topic),
			semconv.MessagingMessageID(e.ID.String()),
			semconv.MessagingKafkaMessageKey(string(e.Key)),
			attribute.String("cloudevents.event_type", e.Type),
			attribute.String("rapport.tenant_id", e.TenantID.String()),
		))
}

// endProducerSpans ends one span per message; kafka.WriteErrors tells which
// messages failed, any other error fails them all.
func endProducerSpans(spans []trace.Span, err error) {
	var each kafka.WriteErrors
	perMessage := errors.As(err, &each) && len(each) == len(spans)
	for i, span := range spans {
		failed := err
		if perMessage {
			failed = each[i]
		}
		if failed != nil {
			span.RecordError(failed)
			span.SetStatus(codes.Error, failed.Error())
		}
		span.End()
	}
}
