package tenancy

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/events"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// Provisioner publishes tenant records and waits for the services' answers.
// deploy/local uses it now; the operator will use the same code.
type Provisioner struct {
	brokers []string
	w       *kafka.Writer
	source  string
}

// NewProvisioner publishes as source (e.g. "/rapport/local").
func NewProvisioner(brokers []string, source string) *Provisioner {
	return &Provisioner{brokers: brokers, w: events.NewWriter(brokers), source: source}
}

// Close flushes the writer.
func (p *Provisioner) Close() error { return p.w.Close() }

// Publish puts the record on crm.tenants.v1, keyed by tenant id.
func (p *Provisioner) Publish(ctx context.Context, rec *tenancyv1.TenantRecord) error {
	id, err := uuid.Parse(rec.GetId())
	if err != nil {
		return fmt.Errorf("tenancy: record id %q: %w", rec.GetId(), err)
	}
	ev, err := events.New(TopicTenants, p.source, TypeRecord, id, rec.GetId(), rec)
	if err != nil {
		return err
	}
	return events.Publish(ctx, p.w, ev)
}

// Tombstone ends a deleted tenant's history on crm.tenants.v1: a message
// without a value, keyed by the tenant id, which compaction keeps in place of
// every record before it. Call it once every service has acknowledged the
// deleting record.
func (p *Provisioner) Tombstone(ctx context.Context, id uuid.UUID) error {
	ev, err := events.New(TopicTenants, p.source, TypeTombstone, id, id.String(), nil)
	if err != nil {
		return err
	}
	ev.Data = nil
	return events.Publish(ctx, p.w, ev)
}

// WaitAcks blocks until every service in services has acknowledged
// generation (or a later one) of the tenant, and returns their acks.
func (p *Provisioner) WaitAcks(ctx context.Context, tenantID string, generation int64, services []string) (map[string]*tenancyv1.TenantAck, error) {
	want := map[string]bool{}
	for _, s := range services {
		want[s] = true
	}
	got := map[string]*tenancyv1.TenantAck{}
	var mu sync.Mutex
	done := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan error, 1)
	go func() {
		watched <- WatchAcks(ctx, p.brokers, func(ack *tenancyv1.TenantAck) {
			if ack.GetTenantId() != tenantID || ack.GetGeneration() < generation || !want[ack.GetService()] {
				return
			}
			mu.Lock()
			got[ack.GetService()] = ack
			complete := len(got) == len(want)
			mu.Unlock()
			if complete {
				once.Do(func() { close(done) })
			}
		})
	}()
	for {
		select {
		case <-done:
			mu.Lock()
			defer mu.Unlock()
			return got, nil
		case err := <-watched:
			// Caught up (nil) or could not start: only the latter ends the wait.
			if err != nil && ctx.Err() == nil {
				return nil, err
			}
			watched = nil
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			var missing []string
			for s := range want {
				if got[s] == nil {
					missing = append(missing, s)
				}
			}
			sort.Strings(missing)
			return got, fmt.Errorf("tenancy: tenant %s generation %d not acknowledged by %s: %w", tenantID, generation, strings.Join(missing, ", "), ctx.Err())
		}
	}
}

// Watch reads every partition of topic from the beginning without a consumer
// group (nothing to clean up afterwards) and calls fn for each message until
// ctx ends, riding out broker errors. It returns once fn has seen every
// message that was on the topic when Watch was called, so a caller is caught
// up when it returns nil.
func Watch(ctx context.Context, brokers []string, topic string, fn func(kafka.Message)) (err error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return fmt.Errorf("tenancy: dial %s: %w", brokers[0], err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return fmt.Errorf("tenancy: partitions of %s: %w", topic, err)
	}
	// The readers outlive a successful call; a failed one stops those it started.
	rctx, stop := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			stop()
		}
	}()
	var mu sync.Mutex
	var caughtUp sync.WaitGroup
	for _, part := range parts {
		first, end, err := offsets(ctx, brokers[0], topic, part.ID)
		if err != nil {
			return err
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part.ID, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return err
		}
		caughtUp.Add(1)
		signal := sync.OnceFunc(caughtUp.Done)
		if first >= end {
			// Empty, or everything on it already deleted by retention.
			signal()
		}
		go follow(rctx, r, topic, &mu, fn, func(offset int64) {
			if offset+1 >= end {
				signal()
			}
		})
	}
	done := make(chan struct{})
	go func() { caughtUp.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// follow reads one partition until ctx ends. kafka-go reports transient
// broker errors (a leader change, a dropped connection) and keeps its
// position, so they are waited out rather than ending the follower.
func follow(ctx context.Context, r *kafka.Reader, topic string, mu *sync.Mutex, fn func(kafka.Message), seen func(offset int64)) {
	defer r.Close()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			slog.WarnContext(ctx, "tenancy: follow "+topic, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		mu.Lock()
		fn(m)
		mu.Unlock()
		seen(m.Offset)
	}
}

// offsets are the first offset still on a partition and the one the next
// message will get.
func offsets(ctx context.Context, broker, topic string, partition int) (first, end int64, err error) {
	conn, err := kafka.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		return 0, 0, fmt.Errorf("tenancy: leader of %s/%d: %w", topic, partition, err)
	}
	defer conn.Close()
	first, end, err = conn.ReadOffsets()
	if err != nil {
		return 0, 0, fmt.Errorf("tenancy: offsets of %s/%d: %w", topic, partition, err)
	}
	return first, end, nil
}

// WatchAcks calls fn with every acknowledgement on crm.tenant-acks.v1, from
// the first one still kept, until ctx ends; it returns once fn has seen those
// published before the call (see Watch).
func WatchAcks(ctx context.Context, brokers []string, fn func(*tenancyv1.TenantAck)) error {
	return Watch(ctx, brokers, TopicAcks, func(m kafka.Message) {
		ev, err := events.FromMessage(m)
		if err != nil || ev.Type != TypeAck {
			return
		}
		ack := &tenancyv1.TenantAck{}
		if ev.Unmarshal(ack) == nil {
			fn(ack)
		}
	})
}

// WatchDirectory keeps dir up to date from crm.tenants.v1, for processes
// without a database of tenants (the gateway). It returns once dir holds every
// record published before the call.
func WatchDirectory(ctx context.Context, brokers []string, dir *Directory) error {
	return Watch(ctx, brokers, TopicTenants, func(m kafka.Message) {
		ev, err := events.FromMessage(m)
		if err != nil {
			return
		}
		if ev.Type == TypeTombstone {
			dir.Remove(ev.TenantID)
			return
		}
		if ev.Type != TypeRecord {
			return
		}
		rec := &tenancyv1.TenantRecord{}
		if ev.Unmarshal(rec) == nil {
			_ = dir.PutRecord(rec)
		}
	})
}
