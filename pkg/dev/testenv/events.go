package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/events"
)

// EventsAbout reads topic from its start until it holds n distinct events
// whose subject is subject (30 s at most), and returns them in the order
// they were published.
func EventsAbout(t testing.TB, brokers []string, topic, subject string, n int) []events.Event {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "test-" + uuid.NewString(), Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []events.Event
	seen := map[uuid.UUID]bool{}
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("have %d events about %s on %s (%v), want %d: %v", len(out), subject, topic, EventTypes(out), n, err)
		}
		ev, err := events.FromMessage(m)
		if err != nil {
			t.Fatalf("malformed message on %s: %v", topic, err)
		}
		if ev.Subject == subject && !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// EventTypes are the types of evs, in order.
func EventTypes(evs []events.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// ReadEvents reads topic from its start until no message has come for
// idle, and returns its events once each (a message a relay sent twice
// carries the same event id) in the order they came.
func ReadEvents(t testing.TB, brokers []string, topic string, idle time.Duration) []events.Event {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "test-" + uuid.NewString(), Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []events.Event
	seen := map[uuid.UUID]bool{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			return out
		}
		ev, err := events.FromMessage(m)
		if err != nil {
			t.Fatalf("malformed message on %s: %v", topic, err)
		}
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
}
