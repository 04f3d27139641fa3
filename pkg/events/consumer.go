package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// Dead-letter headers added to the original message, so an operator can see
// why it was parked and where it came from, and replay it.
const (
	HeaderDLQError     = "dlq_error"
	HeaderDLQGroup     = "dlq_group"
	HeaderDLQTopic     = "dlq_topic"
	HeaderDLQPartition = "dlq_partition"
	HeaderDLQOffset    = "dlq_offset"
	HeaderDLQAttempts  = "dlq_attempts"
)

// maxBackoff caps the wait between two attempts at one message.
const maxBackoff = 5 * time.Second

// Handler applies one event in tx, the transaction that also records the
// event in the inbox. It must do all its writes through tx: then the effect
// and "this event was handled" commit together, and a redelivered event is
// skipped before Handler sees it again.
type Handler func(ctx context.Context, tx pgx.Tx, e Event) error

// ConsumerConfig describes one consumer group in this process.
type ConsumerConfig struct {
	Brokers []string
	// Group is the Kafka consumer group and the inbox's consumer name.
	Group  string
	Topics []string
	Pool   *pgxpool.Pool
	// Handler is called once per event, in the event's tenant scope.
	Handler Handler
	// MaxAttempts bounds the handler's attempts at one message before it is
	// dead-lettered (default 5).
	MaxAttempts int
	// Backoff is the first wait between attempts; it doubles up to 5s
	// (default 100ms).
	Backoff time.Duration
	// Concurrency is how many group members this process runs (default 3).
	// Each member handles its partitions one message at a time, in order.
	Concurrency int
	// DLQ receives messages that cannot be handled, on DLQTopic(Group). Its
	// Topic must be empty (messages then name the topic) or DLQTopic(Group).
	DLQ *kafka.Writer
	// Filter, when set, picks the events the handler sees; the others are
	// skipped without a transaction (a projection that needs a few types of
	// a busy topic should not pay a commit for every other event).
	Filter func(Event) bool
	// StartOffset is where a group with no committed offset begins
	// (default kafka.FirstOffset: a new consumer sees the whole history).
	StartOffset int64
	// LagInterval is how often the group's lag is measured from the broker
	// (default 10s).
	LagInterval time.Duration
}

// Consumer turns Kafka's at-least-once delivery into effects that happen
// exactly once: the inbox row and the effect commit in one transaction, and
// the offset is committed only after that.
type Consumer struct {
	cfg ConsumerConfig
	// lag is the latest measurement of every partition's lag.
	lag atomic.Pointer[map[partitionKey]int64]
	// afterEffect, if set, runs after an event's transaction committed and
	// before its offset is committed. Only tests set it (export_test.go), to
	// crash a consumer in exactly that window.
	afterEffect func()
}

// NewConsumer checks cfg and fills in its defaults.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	switch {
	case len(cfg.Brokers) == 0, cfg.Group == "", len(cfg.Topics) == 0, cfg.Pool == nil, cfg.Handler == nil:
		return nil, errors.New("events: consumer needs Brokers, Group, Topics, Pool and Handler")
	case cfg.DLQ == nil:
		return nil, errors.New("events: consumer needs a DLQ writer")
	case cfg.DLQ.Topic != "" && cfg.DLQ.Topic != DLQTopic(cfg.Group):
		return nil, fmt.Errorf("events: DLQ writer topic %q, want %q or none", cfg.DLQ.Topic, DLQTopic(cfg.Group))
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 100 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 3
	}
	if cfg.StartOffset == 0 {
		cfg.StartOffset = kafka.FirstOffset
	}
	if cfg.LagInterval <= 0 {
		cfg.LagInterval = 10 * time.Second
	}
	rc := readerConfig(cfg)
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("events: consumer %s: %w", cfg.Group, err)
	}
	return &Consumer{cfg: cfg}, nil
}

func readerConfig(cfg ConsumerConfig) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:     cfg.Brokers,
		GroupID:     cfg.Group,
		GroupTopics: cfg.Topics,
		StartOffset: cfg.StartOffset,
		MinBytes:    1,
		MaxBytes:    10 << 20,
		// A short wait keeps an idle member responsive to rebalances.
		MaxWait: 500 * time.Millisecond,
		// Members learn of a rebalance at their next heartbeat: a short
		// interval keeps restarts and scale-outs quick.
		HeartbeatInterval: time.Second,
		// CommitMessages records the offset and a background loop commits it
		// every interval (and on Close): a broker round trip per message would
		// cap a member at a few hundred events per second. Offsets still move
		// only past effects that committed; a crash redelivers at most one
		// interval of events, which the inbox absorbs.
		CommitInterval: 100 * time.Millisecond,
	}
}

// Run consumes until ctx is done and returns nil then. Errors of Kafka or the
// database are logged and retried.
func (c *Consumer) Run(ctx context.Context) error {
	in := metrics()
	for _, topic := range c.cfg.Topics {
		// A counter that has never moved has no series, and an alert on its
		// increase would have nothing to compare with.
		in.dlq.Add(ctx, 0, metric.WithAttributes(attribute.String("group", c.cfg.Group), attribute.String("topic", topic)))
	}
	reg, err := otel.Meter(instrumentation).RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if lag := c.lag.Load(); lag != nil {
			for k, n := range *lag {
				o.ObserveInt64(in.lag, n, metric.WithAttributes(attribute.String("group", c.cfg.Group),
					attribute.String("topic", k.topic), attribute.Int("partition", k.partition)))
			}
		}
		return nil
	}, in.lag)
	if err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	var wg sync.WaitGroup
	wg.Go(func() { c.watchLag(ctx) })
	for range c.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.member(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// member is one group member: it fetches, handles and commits one message at
// a time, so a partition's messages are applied in order.
func (c *Consumer) member(ctx context.Context) {
	r := kafka.NewReader(readerConfig(c.cfg))
	defer r.Close()
	backoff := c.cfg.Backoff
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			slog.WarnContext(ctx, "events: fetch", "group", c.cfg.Group, "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = c.cfg.Backoff
		if !c.process(ctx, m) || ctx.Err() != nil {
			// Shutting down: the offset stays where it was, and the next
			// owner of the partition meets the message again (the inbox
			// makes that harmless).
			return
		}
		if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			slog.WarnContext(ctx, "events: commit offset", "group", c.cfg.Group, "topic", m.Topic,
				"partition", m.Partition, "offset", m.Offset, "err", err)
		}
	}
}

// process handles one message and reports whether its offset may be
// committed: true once it was applied, found duplicate or dead-lettered;
// false only when ctx ended first.
func (c *Consumer) process(ctx context.Context, m kafka.Message) bool {
	ctx, span := otel.Tracer(instrumentation).Start(ExtractContext(ctx, m), "process "+m.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(m.Topic),
			semconv.MessagingConsumerGroupName(c.cfg.Group),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(m.Partition)),
			semconv.MessagingKafkaOffset(int(m.Offset)),
			semconv.MessagingKafkaMessageKey(string(m.Key)),
		))
	defer span.End()

	e, err := FromMessage(m)
	if err != nil {
		return c.deadLetter(ctx, span, m, err, 0)
	}
	span.SetAttributes(semconv.MessagingMessageID(e.ID.String()),
		attribute.String("cloudevents.event_type", e.Type), attribute.String("rapport.tenant_id", e.TenantID.String()))
	if c.cfg.Filter != nil && !c.cfg.Filter(e) {
		// Not this consumer's business: no transaction, no inbox row; the
		// offset moves on with the others.
		span.SetAttributes(attribute.String("rapport.outcome", "skipped"))
		c.count(ctx, m, "skipped")
		return true
	}

	attempts, backoff := 0, c.cfg.Backoff
	for {
		dup, err := c.apply(ctx, e)
		if err == nil {
			outcome := "applied"
			if dup {
				outcome = "duplicate"
			}
			span.SetAttributes(attribute.String("rapport.outcome", outcome))
			c.count(ctx, m, outcome)
			if c.afterEffect != nil {
				c.afterEffect()
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !outage(err) {
			attempts++
			if attempts >= c.cfg.MaxAttempts {
				return c.deadLetter(ctx, span, m, err, attempts)
			}
		}
		slog.WarnContext(ctx, "events: handle", "group", c.cfg.Group, "type", e.Type, "event_id", e.ID,
			"tenant_id", e.TenantID, "attempt", attempts, "err", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// apply records e in the inbox and runs the handler in the same tenant-scoped
// transaction; dup reports that the inbox already had it.
func (c *Consumer) apply(ctx context.Context, e Event) (dup bool, err error) {
	err = postgres.InTenant(ctx, c.cfg.Pool, e.TenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `insert into inbox (tenant_id, consumer, event_id) values ($1, $2, $3) on conflict do nothing`,
			e.TenantID, c.cfg.Group, e.ID)
		if err != nil {
			return fmt.Errorf("events: inbox: %w", err)
		}
		if tag.RowsAffected() == 0 {
			dup = true
			return nil
		}
		return c.handle(ctx, tx, e)
	})
	return dup, err
}

// handle runs the handler and turns a panic into an error, so that a message
// that crashes its handler is retried and then dead-lettered like any other
// failing message instead of killing the service in a loop.
func (c *Consumer) handle(ctx context.Context, tx pgx.Tx, e Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("events: handler panicked: %v", r)
		}
	}()
	return c.cfg.Handler(ctx, tx, e)
}

// outage tells a failing database or network from a failing message: an
// outage is retried without counting attempts, since parking healthy events
// while PostgreSQL restarts would flood the DLQ.
func outage(err error) bool {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &pgErr):
		// The server answered: the statement or data is at fault, except
		// when the server itself is going away or out of resources.
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" ||
			pgErr.Code == "53300" || strings.HasPrefix(pgErr.Code, "08")
	case errors.As(err, &connErr), errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), pgconn.Timeout(err):
		return true
	}
	return false
}

// deadLetter parks m on the group's DLQ topic with the reason, so that the
// partition moves on. It retries the write until it succeeds or ctx ends:
// committing past a message that is in neither the DLQ nor the database
// would lose it.
func (c *Consumer) deadLetter(ctx context.Context, span trace.Span, m kafka.Message, cause error, attempts int) bool {
	span.RecordError(cause)
	span.SetStatus(codes.Error, "dead-lettered")
	reason := cause.Error()
	if len(reason) > 4096 {
		reason = reason[:4096]
	}
	headers := append(make([]kafka.Header, 0, len(m.Headers)+6), m.Headers...)
	for _, h := range [][2]string{
		{HeaderDLQError, reason},
		{HeaderDLQGroup, c.cfg.Group},
		{HeaderDLQTopic, m.Topic},
		{HeaderDLQPartition, strconv.Itoa(m.Partition)},
		{HeaderDLQOffset, strconv.FormatInt(m.Offset, 10)},
		{HeaderDLQAttempts, strconv.Itoa(attempts)},
	} {
		headers = append(headers, kafka.Header{Key: h[0], Value: []byte(h[1])})
	}
	dm := kafka.Message{Key: m.Key, Value: m.Value, Headers: headers}
	if c.cfg.DLQ.Topic == "" {
		dm.Topic = DLQTopic(c.cfg.Group)
	}
	if !c.writeDeadLetter(ctx, dm, m) {
		return false
	}
	slog.ErrorContext(ctx, "events: dead-lettered", "group", c.cfg.Group, "topic", m.Topic, "partition", m.Partition,
		"offset", m.Offset, "attempts", attempts, "err", cause)
	metrics().dlq.Add(ctx, 1, metric.WithAttributes(attribute.String("group", c.cfg.Group), attribute.String("topic", m.Topic)))
	c.count(ctx, m, "dead_lettered")
	return true
}

// writeDeadLetter writes dm until it succeeds or ctx ends, and reports
// which. The dead letter is published like any event: a producer span, child
// of the failed message's consumer span, whose context replaces the original
// producer's in the headers, so a replay continues this trace.
func (c *Consumer) writeDeadLetter(ctx context.Context, dm kafka.Message, failed kafka.Message) bool {
	topic := DLQTopic(c.cfg.Group)
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "send "+topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(topic),
			semconv.MessagingKafkaMessageKey(string(failed.Key)),
		))
	defer span.End()
	if id := (headerCarrier{&failed.Headers}).Get(HeaderID); id != "" {
		span.SetAttributes(semconv.MessagingMessageID(id))
	}
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier{&dm.Headers})
	backoff := c.cfg.Backoff
	for {
		err := c.cfg.DLQ.WriteMessages(ctx, dm)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			span.SetStatus(codes.Error, err.Error())
			return false
		}
		span.RecordError(err)
		slog.ErrorContext(ctx, "events: write DLQ", "group", c.cfg.Group, "err", err)
		if !sleep(ctx, backoff) {
			span.SetStatus(codes.Error, "shut down before the dead letter was written")
			return false
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (c *Consumer) count(ctx context.Context, m kafka.Message, outcome string) {
	metrics().consumed.Add(ctx, 1, metric.WithAttributes(attribute.String("group", c.cfg.Group),
		attribute.String("topic", m.Topic), attribute.String("outcome", outcome)))
}

// partitionKey names one partition of a consumer group's topics.
type partitionKey struct {
	topic     string
	partition int
}

// watchLag measures the group's lag every LagInterval until ctx ends. It asks
// the broker, not the messages fetched, so a member that stopped fetching
// (a handler stuck, a crash loop) shows a lag that keeps growing.
func (c *Consumer) watchLag(ctx context.Context) {
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second}
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		lag, err := c.measureLag(ctx, client)
		switch {
		case err == nil:
			c.lag.Store(&lag)
		case ctx.Err() == nil:
			// The last measurement stands: an unreachable broker is when the
			// lag matters most.
			slog.WarnContext(ctx, "events: measure consumer lag", "group", c.cfg.Group, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measureLag is, for every partition of the group's topics, how many messages
// lie between the group's committed offset and the partition's high-water
// mark. A partition the group never committed on counts from where the group
// would start.
func (c *Consumer) measureLag(ctx context.Context, client *kafka.Client) (map[partitionKey]int64, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: c.cfg.Topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	ask := map[string][]kafka.OffsetRequest{}
	parts := map[string][]int{}
	for _, t := range meta.Topics {
		if t.Error != nil {
			continue // not created yet: nothing to lag behind
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			ask[t.Name] = append(ask[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	lag := map[partitionKey]int64{}
	if len(parts) == 0 {
		return lag, nil
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: ask})
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.cfg.Group, Topics: parts})
	if err == nil {
		err = committed.Error
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets: %w", err)
	}
	at := map[partitionKey]int64{}
	for topic, ps := range committed.Topics {
		for _, p := range ps {
			if p.Error == nil && p.CommittedOffset >= 0 {
				at[partitionKey{topic, p.Partition}] = p.CommittedOffset
			}
		}
	}
	for topic, ps := range ends.Topics {
		for _, p := range ps {
			if p.Error != nil {
				continue
			}
			k := partitionKey{topic, p.Partition}
			pos, ok := at[k]
			if !ok {
				pos = p.LastOffset
				if c.cfg.StartOffset == kafka.FirstOffset {
					pos = p.FirstOffset
				}
			}
			lag[k] = max(p.LastOffset-pos, 0)
		}
	}
	return lag, nil
}
