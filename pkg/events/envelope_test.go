package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	testenv.Spans(t) // the W3C propagator
	ctx, span := otel.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	tenant := uuid.New()
	e, err := events.New("crm.contacts.events.v1", "/rapport/contacts", "crm.contact.created", tenant, "c-42", wrapperspb.String("Anna"))
	if err != nil {
		t.Fatal(err)
	}
	e.Extensions = map[string]string{events.ExtContactID: "c-1,c-2", "bad-name": "dropped", "type": "shadowing"}
	if e.ID.Version() != 7 || string(e.Key) != "c-42" || e.Time.Location() != time.UTC || time.Since(e.Time) > time.Minute {
		t.Fatalf("New: id v%d, key %q, time %v", e.ID.Version(), e.Key, e.Time)
	}

	m := events.ToMessage(ctx, e)
	have := map[string]string{}
	for _, h := range m.Headers {
		have[h.Key] = string(h.Value)
	}
	sc := span.SpanContext()
	for k, want := range map[string]string{
		"ce_specversion": "1.0",
		"ce_id":          e.ID.String(),
		"ce_source":      "/rapport/contacts",
		"ce_type":        "crm.contact.created",
		"ce_time":        e.Time.Format(time.RFC3339Nano),
		"ce_subject":     "c-42",
		"ce_tenantid":    tenant.String(),
		"ce_contactid":   "c-1,c-2",
		"content-type":   "application/protobuf",
		"traceparent":    "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01",
	} {
		if have[k] != want {
			t.Errorf("header %s = %q, want %q", k, have[k], want)
		}
	}
	if m.Topic != e.Topic || string(m.Key) != "c-42" {
		t.Errorf("message topic %q key %q", m.Topic, m.Key)
	}

	m.Partition, m.Offset = 1, 7 // as a reader hands it over
	back, err := events.FromMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.Type != e.Type || back.Source != e.Source || back.Subject != e.Subject ||
		back.TenantID != tenant || !back.Time.Equal(e.Time) || back.Topic != e.Topic || string(back.Key) != string(e.Key) {
		t.Fatalf("have %+v, want %+v", back, e)
	}
	if len(back.Extensions) != 1 || back.Extensions[events.ExtContactID] != "c-1,c-2" || have["ce_bad-name"] != "" {
		t.Fatalf("extensions %v (headers %v)", back.Extensions, have)
	}
	var payload wrapperspb.StringValue
	if err := back.Unmarshal(&payload); err != nil || payload.GetValue() != "Anna" {
		t.Fatalf("payload %q, %v", payload.GetValue(), err)
	}
	remote := trace.SpanContextFromContext(events.ExtractContext(context.Background(), m))
	if !remote.IsRemote() || remote.TraceID() != sc.TraceID() || remote.SpanID() != sc.SpanID() {
		t.Fatalf("extracted %v, want remote %v", remote, sc)
	}
	if events.DLQTopic("contacts.tenancy") != "crm.dlq.contacts.tenancy.v1" {
		t.Fatal(events.DLQTopic("contacts.tenancy"))
	}
}

func TestFromMessageRejectsWhatIsNotAnEvent(t *testing.T) {
	e, err := events.New("crm.contacts.events.v1", "/rapport/contacts", "crm.contact.created", uuid.New(), "c-1", wrapperspb.String("x"))
	if err != nil {
		t.Fatal(err)
	}
	without := func(key string) kafka.Message {
		m := events.ToMessage(context.Background(), e)
		var kept []kafka.Header
		for _, h := range m.Headers {
			if h.Key != key {
				kept = append(kept, h)
			}
		}
		m.Headers = kept
		return m
	}
	with := func(key, value string) kafka.Message {
		m := events.ToMessage(context.Background(), e)
		for i := range m.Headers {
			if m.Headers[i].Key == key {
				m.Headers[i].Value = []byte(value)
			}
		}
		return m
	}
	for name, m := range map[string]kafka.Message{
		"no headers":          {Topic: "t", Value: []byte("x")},
		"missing ce_id":       without("ce_id"),
		"missing ce_type":     without("ce_type"),
		"missing ce_source":   without("ce_source"),
		"missing tenant":      without("ce_tenantid"),
		"missing specversion": without("ce_specversion"),
		"garbled ce_id":       with("ce_id", "not-a-uuid"),
		"garbled tenant":      with("ce_tenantid", "acme"),
		"nil tenant":          with("ce_tenantid", uuid.Nil.String()),
		"garbled ce_time":     with("ce_time", "yesterday"),
		"other spec version":  with("ce_specversion", "0.3"),
		"json payload":        with("content-type", "application/json"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := events.FromMessage(m); !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("have %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := events.FromMessage(events.ToMessage(context.Background(), e)); err != nil {
		t.Fatalf("the intact message: %v", err)
	}
}
