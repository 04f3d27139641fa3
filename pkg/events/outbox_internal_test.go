package events

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Extensions survive the outbox: stored with the row's headers, read back
// by the relay, and never mistaken for trace context.
func TestOutboxKeepsExtensions(t *testing.T) {
	e := Event{ID: uuid.New(), TenantID: uuid.New(), Topic: "t", Type: "crm.deal.created", Source: "/rapport/sales",
		Subject: "d-1", Time: time.Now().UTC(), Extensions: map[string]string{ExtContactID: "c-1"}}
	h, err := outboxHeaders(context.Background())(e)
	if err != nil {
		t.Fatal(err)
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(h), &headers); err != nil {
		t.Fatal(err)
	}
	back, trace := eventFromOutbox(e.TenantID, e.ID, e.Topic, nil, e.Type, e.Subject, nil, headers, time.Now())
	if back.Extensions[ExtContactID] != "c-1" || back.Source != e.Source || len(trace) != 0 {
		t.Fatalf("back %+v, trace %v", back, trace)
	}
	e.Extensions = map[string]string{"Contact-ID": "c-1"}
	if _, err := outboxHeaders(context.Background())(e); err == nil {
		t.Fatal("an invalid extension name was stored")
	}
}
