package main

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// Provisioning a tenant is one trace: each record carries the context of a
// publish span whose parent is that tenant's provisioning span, so the
// services' handling of the record joins the runner's trace.
func TestEachTenantRecordJoinsItsProvisioningTrace(t *testing.T) {
	rec := testenv.Spans(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := testenv.Kafka(t, tenancy.TopicTenants)
	if err := provisionTenants(ctx, brokers, nil, defaultTenantRPS, time.Minute, newConsole(io.Discard, false).writer(selfName, nil)); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	parents := map[string]string{} // tenant id -> span id in the record's traceparent
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	err := tenancy.Watch(wctx, brokers, tenancy.TopicTenants, func(m kafka.Message) {
		for _, h := range m.Headers {
			if h.Key == "traceparent" {
				mu.Lock()
				parents[string(m.Key)] = string(h.Value)
				mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	traces := map[trace.TraceID]bool{}
	for _, d := range demoTenants {
		id := tenancy.LocalID(d.Name).String()
		tp := parents[id]
		var publish, provision trace.SpanContext
		for _, s := range rec.Ended() {
			switch {
			case strings.Contains(tp, s.SpanContext().SpanID().String()) && s.SpanKind() == trace.SpanKindProducer:
				publish = s.SpanContext()
				for _, p := range rec.Ended() {
					if p.SpanContext().SpanID() == s.Parent().SpanID() {
						provision = p.SpanContext()
						if p.Name() != "provision tenant "+d.Name || p.Parent().IsValid() {
							t.Errorf("tenant %s: the publish span's parent is %q (parent %s), want the root span of its provisioning",
								d.Name, p.Name(), p.Parent().SpanID())
						}
					}
				}
			}
		}
		if !publish.IsValid() || !provision.IsValid() {
			t.Errorf("tenant %s: traceparent %q names no publish span under a provisioning span", d.Name, tp)
			continue
		}
		traces[provision.TraceID()] = true
	}
	if len(traces) != len(demoTenants) {
		t.Errorf("%d traces for %d tenants, want one each", len(traces), len(demoTenants))
	}
}
