package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/events"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// Hook is a service's part of applying a tenant. Both methods run in the
// applier's transaction, scoped to the tenant, together with the tenant row,
// the inbox row and the outbox row of the acknowledgement.
type Hook interface {
	// Apply creates or updates the tenant's defaults (e.g. a default pipeline).
	// It runs for every new generation and must be idempotent.
	Apply(ctx context.Context, tx pgx.Tx, rec *tenancyv1.TenantRecord) error
	// Purge removes every row the service holds for the tenant.
	Purge(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error
}

// ApplierConfig wires an Applier.
type ApplierConfig struct {
	// Service names the acknowledging service, e.g. "contacts".
	Service   string
	Brokers   []string
	Pool      *pgxpool.Pool
	Directory *Directory
	Hook      Hook
	// DLQ receives records that cannot be applied.
	DLQ *kafka.Writer
	// Refresh is how often the directory is reloaded from the database, so
	// that replicas which did not consume a record learn it too.
	Refresh time.Duration
}

// Applier applies tenant records in one service and acknowledges them.
type Applier struct {
	cfg      ApplierConfig
	consumer *events.Consumer
}

// NewApplier builds an applier consuming crm.tenants.v1 as group "<service>.tenancy".
func NewApplier(cfg ApplierConfig) (*Applier, error) {
	if cfg.Service == "" || cfg.Pool == nil || cfg.Directory == nil || cfg.Hook == nil {
		return nil, errors.New("tenancy: applier needs Service, Pool, Directory and Hook")
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = 2 * time.Second
	}
	a := &Applier{cfg: cfg}
	c, err := events.NewConsumer(events.ConsumerConfig{
		Brokers: cfg.Brokers,
		Group:   cfg.Service + ".tenancy",
		Topics:  []string{TopicTenants},
		Pool:    cfg.Pool,
		Handler: a.handle,
		DLQ:     cfg.DLQ,
		// A tombstone follows the deleting record, which did the work.
		Filter: func(e events.Event) bool { return e.Type == TypeRecord },
		// Tenant records are rare and must be applied in order per tenant.
		Concurrency: 1,
	})
	if err != nil {
		return nil, err
	}
	a.consumer = c
	return a, nil
}

// Run loads the directory, then applies records until ctx ends.
func (a *Applier) Run(ctx context.Context) error {
	version, err := tenantsVersion(ctx, a.cfg.Pool)
	if err != nil {
		return err
	}
	if err := LoadDirectory(ctx, a.cfg.Pool, a.cfg.Directory); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(a.cfg.Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.refresh(ctx, &version); err != nil && ctx.Err() == nil {
					slog.WarnContext(ctx, "tenancy: reload directory", "err", err)
				}
			}
		}
	}()
	return a.consumer.Run(ctx)
}

// refresh reloads the directory when a record was applied since version
// (by this replica or another): a look at one number while nothing changes.
func (a *Applier) refresh(ctx context.Context, version *string) error {
	v, err := tenantsVersion(ctx, a.cfg.Pool)
	if err != nil || v == *version {
		return err
	}
	// Read before the records: a record applied in between is loaded now
	// and again at the next look, never missed.
	if err := LoadDirectory(ctx, a.cfg.Pool, a.cfg.Directory); err != nil {
		return err
	}
	*version = v
	return nil
}

// tenantsVersion changes whenever a tenant record is applied.
func tenantsVersion(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var v string
	err := pool.QueryRow(ctx, `select system.tenants_version()`).Scan(&v)
	return v, err
}

func (a *Applier) handle(ctx context.Context, tx pgx.Tx, e events.Event) error {
	rec := &tenancyv1.TenantRecord{}
	if err := e.Unmarshal(rec); err != nil {
		return fmt.Errorf("tenancy: decode record: %w", err)
	}
	t, err := FromRecord(rec)
	if err != nil {
		return fmt.Errorf("tenancy: record id %q: %w", rec.GetId(), err)
	}
	if t.ID != e.TenantID {
		return fmt.Errorf("tenancy: record for %s carried tenant header %s", t.ID, e.TenantID)
	}
	var stored int64
	err = tx.QueryRow(ctx, `select generation from tenants where tenant_id = $1`, t.ID).Scan(&stored)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	ack := &tenancyv1.TenantAck{TenantId: t.ID.String(), Service: a.cfg.Service, Generation: rec.GetGeneration(), Ready: true, AckedAt: timestamppb.Now()}
	if stored >= rec.GetGeneration() && !errors.Is(err, pgx.ErrNoRows) {
		// An older or repeated generation: acknowledge what it asked, change nothing.
		ack.Deleted = t.State != StateActive
		return a.appendAck(ctx, tx, ack)
	}
	switch t.State {
	case StateDeleted:
		if err := a.cfg.Hook.Purge(ctx, tx, t.ID); err != nil {
			return fmt.Errorf("tenancy: purge %s: %w", t.ID, err)
		}
		ack.Deleted, ack.Message = true, "data purged"
	case StateRetained:
		ack.Deleted, ack.Message = true, "data retained read-only"
	default:
		if err := a.cfg.Hook.Apply(ctx, tx, rec); err != nil {
			return fmt.Errorf("tenancy: apply %s: %w", t.ID, err)
		}
		ack.Message = "applied"
		if rec.GetSuspended() {
			ack.Message = "applied; suspended"
		}
	}
	raw, err := proto.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		insert into tenants (tenant_id, name, record, generation, suspended, state, updated_at)
		values ($1, $2, $3, $4, $5, $6, now())
		on conflict (tenant_id) do update set name = excluded.name, record = excluded.record,
			generation = excluded.generation, suspended = excluded.suspended, state = excluded.state, updated_at = now()`,
		t.ID, t.Name, raw, t.Generation, t.Suspended, string(t.State)); err != nil {
		return err
	}
	if err := a.appendAck(ctx, tx, ack); err != nil {
		return err
	}
	// This replica learns at once; the others on their next reload.
	a.cfg.Directory.Put(t)
	return nil
}

func (a *Applier) appendAck(ctx context.Context, tx pgx.Tx, ack *tenancyv1.TenantAck) error {
	id := uuid.MustParse(ack.GetTenantId())
	ev, err := events.New(TopicAcks, "/rapport/"+a.cfg.Service, TypeAck, id, ack.GetTenantId(), ack)
	if err != nil {
		return err
	}
	return events.Append(ctx, tx, ev)
}

// LoadDirectory fills dir from the tenants table. The records of every
// tenant are read through system.tenant_records, the one way the app role
// reads them across tenants.
func LoadDirectory(ctx context.Context, pool *pgxpool.Pool, dir *Directory) error {
	rows, err := pool.Query(ctx, `select system.tenant_records()`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return err
		}
		rec := &tenancyv1.TenantRecord{}
		if err := proto.Unmarshal(raw, rec); err != nil {
			return err
		}
		if err := dir.PutRecord(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}
