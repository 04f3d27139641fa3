// Package events carries domain events between Rapport services: the
// CloudEvents envelope on Kafka, a producer for control-plane callers, the
// transactional outbox and its relay, and an idempotent consumer with a
// dead-letter topic. Delivery is at least once end to end; the consumer's
// inbox turns it into an effect exactly once.
package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/proto"
)

// CloudEvents Kafka binding (binary mode) header names. The payload is the
// Kafka value itself, so consumers that only want the bytes never parse JSON.
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderTenantID    = "ce_tenantid"
	HeaderContentType = "content-type"

	SpecVersion = "1.0"
	ContentType = "application/protobuf"
)

// ErrMalformed marks a Kafka message that is not a Rapport event (a poison
// message): retrying it can never succeed, so consumers dead-letter it at once.
var ErrMalformed = errors.New("events: malformed message")

// Event is one fact that happened to an aggregate, as it travels on Kafka.
type Event struct {
	ID       uuid.UUID // ce_id, UUIDv7 so ids sort by creation time
	Type     string    // ce_type, e.g. "crm.contact.created"
	Source   string    // ce_source, e.g. "/rapport/contacts"
	Subject  string    // ce_subject, the aggregate id
	TenantID uuid.UUID // ce_tenantid extension
	Time     time.Time // ce_time, UTC
	Topic    string
	Key      []byte // Kafka key = aggregate id, so one aggregate's events stay in order on one partition
	Data     []byte // protobuf payload
	// Extensions are further CloudEvents extension attributes, travelling
	// as ce_<name> headers: lower-case letters and digits, e.g. "contactid"
	// (the contacts an event of another aggregate concerns, comma-separated).
	Extensions map[string]string
}

// ExtContactID is the extension naming, comma-separated, the contacts an
// event concerns when its subject is another aggregate (a deal, a task, a
// document): the contacts service files such events in those contacts'
// timelines.
const ExtContactID = "contactid"

// reserved are the attributes an extension may not shadow.
var reserved = map[string]bool{"specversion": true, "id": true, "source": true, "type": true, "time": true,
	"subject": true, "tenantid": true, "datacontenttype": true}

func validExtension(name string) bool {
	if name == "" || len(name) > 20 || reserved[name] {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// New builds an event about aggregate subject with msg as its payload. The
// key is the subject, so every event of one aggregate lands on one partition.
func New(topic, source, typ string, tenantID uuid.UUID, subject string, msg proto.Message) (Event, error) {
	if topic == "" || source == "" || typ == "" {
		return Event{}, errors.New("events: topic, source and type are required")
	}
	if tenantID == uuid.Nil {
		return Event{}, errors.New("events: tenant id is required")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("events: new id: %w", err)
	}
	data, err := proto.Marshal(msg)
	if err != nil {
		return Event{}, fmt.Errorf("events: marshal %s: %w", typ, err)
	}
	return Event{
		ID: id, Type: typ, Source: source, Subject: subject, TenantID: tenantID,
		Time: time.Now().UTC(), Topic: topic, Key: []byte(subject), Data: data,
	}, nil
}

// Unmarshal decodes the payload into msg.
func (e Event) Unmarshal(msg proto.Message) error {
	if err := proto.Unmarshal(e.Data, msg); err != nil {
		return fmt.Errorf("events: unmarshal %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// ToMessage renders e in binary mode and injects ctx's trace context, so
// that whoever consumes the message continues the producer's trace.
func ToMessage(ctx context.Context, e Event) kafka.Message {
	headers := make([]kafka.Header, 0, 10)
	add := func(k, v string) { headers = append(headers, kafka.Header{Key: k, Value: []byte(v)}) }
	add(HeaderSpecVersion, SpecVersion)
	add(HeaderID, e.ID.String())
	add(HeaderSource, e.Source)
	add(HeaderType, e.Type)
	add(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	if e.Subject != "" {
		add(HeaderSubject, e.Subject)
	}
	add(HeaderTenantID, e.TenantID.String())
	add(HeaderContentType, ContentType)
	for k, v := range e.Extensions {
		if validExtension(k) {
			add("ce_"+k, v)
		}
	}
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier{&headers})
	return kafka.Message{Topic: e.Topic, Key: e.Key, Value: e.Data, Headers: headers}
}

// FromMessage reads an event back. A message without the required
// CloudEvents attributes, or with garbled ones, yields ErrMalformed.
func FromMessage(m kafka.Message) (Event, error) {
	h := headerCarrier{&m.Headers}
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s/%d@%d: %s", ErrMalformed, m.Topic, m.Partition, m.Offset, fmt.Sprintf(format, args...))
	}
	if v := h.Get(HeaderSpecVersion); v != SpecVersion {
		return bad("%s %q, want %q", HeaderSpecVersion, v, SpecVersion)
	}
	for _, k := range []string{HeaderID, HeaderSource, HeaderType, HeaderTenantID} {
		if h.Get(k) == "" {
			return bad("missing %s", k)
		}
	}
	id, err := uuid.Parse(h.Get(HeaderID))
	if err != nil {
		return bad("%s: %v", HeaderID, err)
	}
	tenant, err := uuid.Parse(h.Get(HeaderTenantID))
	if err != nil || tenant == uuid.Nil {
		return bad("%s %q is not a tenant id", HeaderTenantID, h.Get(HeaderTenantID))
	}
	var at time.Time
	if v := h.Get(HeaderTime); v != "" {
		if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return bad("%s: %v", HeaderTime, err)
		}
		at = at.UTC()
	}
	if v := h.Get(HeaderContentType); v != "" && v != ContentType {
		return bad("%s %q, want %q", HeaderContentType, v, ContentType)
	}
	e := Event{
		ID: id, Type: h.Get(HeaderType), Source: h.Get(HeaderSource), Subject: h.Get(HeaderSubject),
		TenantID: tenant, Time: at, Topic: m.Topic, Key: m.Key, Data: m.Value,
	}
	for _, hd := range m.Headers {
		if name, ok := strings.CutPrefix(hd.Key, "ce_"); ok && validExtension(name) {
			if e.Extensions == nil {
				e.Extensions = map[string]string{}
			}
			e.Extensions[name] = string(hd.Value)
		}
	}
	return e, nil
}

// ExtractContext returns ctx carrying the remote span context of the
// message's producer, to parent the consumer's span.
func ExtractContext(ctx context.Context, m kafka.Message) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, headerCarrier{&m.Headers})
}

// DLQTopic is the dead-letter topic of a consumer group: one per group, so a
// parked message can be replayed to exactly the consumer that failed on it.
func DLQTopic(group string) string { return "crm.dlq." + group + ".v1" }

// headerCarrier adapts Kafka headers to the OTel propagators.
type headerCarrier struct{ h *[]kafka.Header }

// Get returns the last value of key: a re-injected header overrides an older one.
func (c headerCarrier) Get(key string) string {
	for i := len(*c.h) - 1; i >= 0; i-- {
		if (*c.h)[i].Key == key {
			return string((*c.h)[i].Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i := range *c.h {
		if (*c.h)[i].Key == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, kafka.Header{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, h := range *c.h {
		keys[i] = h.Key
	}
	return keys
}
