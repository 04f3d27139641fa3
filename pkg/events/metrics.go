package events

import (
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// instruments are made from the global meter provider. The global meter
// delegates, so instruments made before the service installs its provider
// still report once it does.
type instruments struct {
	// lag is how many messages a group still has to read on a partition: the
	// first sign that a consumer cannot keep up. Each consumer measures it
	// from the broker every LagInterval and reports it at collection.
	lag metric.Int64ObservableGauge
	// consumed counts messages a consumer finished, by outcome
	// (applied, duplicate, dead_lettered).
	consumed metric.Int64Counter
	// dlq counts messages parked in a dead-letter topic; any increase needs a human.
	dlq metric.Int64Counter
	// published counts events the outbox relay got acknowledged by Kafka.
	published metric.Int64Counter
	// unwoken counts the relay's idle-timer reads that found rows no commit
	// had woken it for: each such row waited up to IdleInterval.
	unwoken metric.Int64Counter
	// backlog and age describe the outbox as the leading relay last saw it:
	// a growing age means events are stuck, not just many.
	backlog metric.Int64ObservableGauge
	age     metric.Float64ObservableGauge
}

// made are the instruments and the provider they were made from.
type made struct {
	provider metric.MeterProvider
	in       *instruments
}

var current atomic.Pointer[made]

// metrics are the instruments of the current global meter provider, made
// again when another provider is installed: a process installs one, but a
// test that installs its own must see what consumers and relays started
// after it record.
func metrics() *instruments {
	mp := otel.GetMeterProvider()
	if m := current.Load(); m != nil && m.provider == mp {
		return m.in
	}
	in := newInstruments(mp.Meter(instrumentation))
	current.Store(&made{provider: mp, in: in})
	return in
}

func newInstruments(m metric.Meter) *instruments {
	var in instruments
	// The constructors return a usable no-op instrument with their error, and
	// a metric that cannot be registered must not stop events from flowing.
	in.lag, _ = m.Int64ObservableGauge("events.consumer.lag", metric.WithUnit("{message}"),
		metric.WithDescription("Messages between a consumer group's committed offset and the partition's high-water mark, by partition."))
	in.consumed, _ = m.Int64Counter("events.consumed", metric.WithUnit("{message}"),
		metric.WithDescription("Messages a consumer group finished, by outcome."))
	in.dlq, _ = m.Int64Counter("events.dlq", metric.WithUnit("{message}"),
		metric.WithDescription("Messages a consumer group sent to its dead-letter topic."))
	in.published, _ = m.Int64Counter("events.relay.published", metric.WithUnit("{event}"),
		metric.WithDescription("Outbox events the relay published."))
	in.unwoken, _ = m.Int64Counter("events.relay.unwoken_reads", metric.WithUnit("{read}"),
		metric.WithDescription("Outbox reads by the relay's idle timer that found rows no commit had woken it for; any increase means a writer the relay does not hear of."))
	in.backlog, _ = m.Int64ObservableGauge("events.outbox.backlog", metric.WithUnit("{event}"),
		metric.WithDescription("Outbox rows not yet published."))
	in.age, _ = m.Float64ObservableGauge("events.outbox.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest unpublished outbox row."))
	return &in
}
