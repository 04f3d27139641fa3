package tenancy_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var widgets = testenv.TenantTables("widgets", `widgets (tenant_id uuid not null, name text not null, primary key (tenant_id, name))`)

// seedHook seeds a default widget per tenant and purges them on deletion.
type seedHook struct{ applies atomic.Int32 }

func (h *seedHook) Apply(ctx context.Context, tx pgx.Tx, rec *tenancyv1.TenantRecord) error {
	h.applies.Add(1)
	_, err := tx.Exec(ctx, `insert into widgets values ($1, 'default') on conflict do nothing`, rec.GetId())
	return err
}

func (h *seedHook) Purge(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := tx.Exec(ctx, `delete from widgets where tenant_id = $1`, id)
	return err
}

type rig struct {
	pool    *pgxpool.Pool
	dir     *tenancy.Directory
	hook    *seedHook
	prov    *tenancy.Provisioner
	brokers []string
}

func setup(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db := testenv.NewDatabase(t)
	brokers := testenv.Kafka(t, tenancy.TopicTenants, tenancy.TopicAcks)
	if err := postgres.Migrate(ctx, db.OwnerURL, db.AppRole, postgres.Platform(), widgets); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	w := events.NewWriter(brokers)
	r := &rig{pool: pool, dir: tenancy.NewDirectory(), hook: &seedHook{}, prov: tenancy.NewProvisioner(brokers, "/test"), brokers: brokers}
	a, err := tenancy.NewApplier(tenancy.ApplierConfig{Service: "widgets", Brokers: brokers, Pool: pool, Directory: r.dir, Hook: r.hook, DLQ: w, Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	relay := events.NewRelay(pool, w, events.RelayOptions{Service: "widgets"})
	done := make(chan struct{}, 2)
	go func() { _ = a.Run(ctx); done <- struct{}{} }()
	go func() { _ = relay.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		_ = r.prov.Close()
		_ = w.Close()
		pool.Close()
	})
	return r
}

func (r *rig) provision(t *testing.T, rec *tenancyv1.TenantRecord) map[string]*tenancyv1.TenantAck {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.prov.Publish(ctx, rec); err != nil {
		t.Fatal(err)
	}
	acks, err := r.prov.WaitAcks(ctx, rec.GetId(), rec.GetGeneration(), []string{"widgets"})
	if err != nil {
		t.Fatal(err)
	}
	return acks
}

func (r *rig) widgets(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var n int
	if err := postgres.InTenant(context.Background(), r.pool, id, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `select count(*) from widgets`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApplyAcknowledgesAndSeeds(t *testing.T) {
	r := setup(t)
	id := uuid.New()
	rec := &tenancyv1.TenantRecord{Id: id.String(), Name: "sales-east", Generation: 1, Region: "eu-1"}
	acks := r.provision(t, rec)
	if ack := acks["widgets"]; !ack.GetReady() || ack.GetGeneration() != 1 {
		t.Fatalf("have ack %v", ack)
	}
	if n := r.widgets(t, id); n != 1 {
		t.Fatalf("have %d seeded widgets, want 1", n)
	}
	if tn, ok := r.dir.Lookup(id); !ok || tn.Name != "sales-east" || tn.State != tenancy.StateActive {
		t.Fatalf("directory has %+v %v", tn, ok)
	}
	// The same generation again is acknowledged and applied no second time.
	before := r.hook.applies.Load()
	r.provision(t, rec)
	if r.hook.applies.Load() != before {
		t.Fatal("a repeated generation ran the hook again")
	}
	// A new generation suspends the tenant: requests are refused, data kept.
	rec.Generation, rec.Suspended = 2, true
	r.provision(t, rec)
	p := auth.Principal{TenantID: id, UserID: "u", Roles: []string{auth.RoleAdmin}}
	if err := r.dir.Admit(p, http.MethodGet); err == nil {
		t.Fatal("a suspended tenant was admitted")
	}
	if n := r.widgets(t, id); n != 1 {
		t.Fatalf("suspension lost data: %d widgets", n)
	}
	if err := r.dir.Admit(auth.Principal{TenantID: uuid.New()}, http.MethodGet); err == nil {
		t.Fatal("an unknown tenant was admitted")
	}
}

func TestDeletionPolicies(t *testing.T) {
	r := setup(t)
	keep, purge := uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{keep, purge} {
		r.provision(t, &tenancyv1.TenantRecord{Id: id.String(), Name: "t", Generation: 1})
	}
	r.provision(t, &tenancyv1.TenantRecord{Id: keep.String(), Name: "t", Generation: 2, Deleting: true,
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_RETAIN})
	acks := r.provision(t, &tenancyv1.TenantRecord{Id: purge.String(), Name: "t", Generation: 2, Deleting: true,
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE})
	if !acks["widgets"].GetDeleted() {
		t.Fatalf("deletion not acknowledged: %v", acks["widgets"])
	}
	if n := r.widgets(t, keep); n != 1 {
		t.Fatalf("Retain lost data: %d", n)
	}
	if n := r.widgets(t, purge); n != 0 {
		t.Fatalf("Delete kept %d rows", n)
	}
	// The tombstone that ends the purged tenant's history is no work for the
	// applier: a record published after it is applied without delay, and
	// the tombstone is never parked as undeliverable.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.prov.Tombstone(ctx, purge); err != nil {
		t.Fatal(err)
	}
	r.provision(t, &tenancyv1.TenantRecord{Id: keep.String(), Name: "t", Generation: 3, Deleting: true,
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_RETAIN})
	var parked atomic.Int32
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := tenancy.Watch(wctx, r.brokers, events.DLQTopic("widgets.tenancy"), func(kafka.Message) { parked.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if n := parked.Load(); n != 0 {
		t.Fatalf("%d tenant messages were dead-lettered", n)
	}
}

func TestDirectoryKeepsTheNewestGeneration(t *testing.T) {
	d := tenancy.NewDirectory()
	id := uuid.New()
	_ = d.PutRecord(&tenancyv1.TenantRecord{Id: id.String(), Name: "new", Generation: 3})
	_ = d.PutRecord(&tenancyv1.TenantRecord{Id: id.String(), Name: "old", Generation: 2})
	if tn, _ := d.Lookup(id); tn.Name != "new" {
		t.Fatalf("an older generation replaced a newer one: %+v", tn)
	}
	if err := d.PutRecord(&tenancyv1.TenantRecord{Id: "nope"}); err == nil {
		t.Fatal("a record with a malformed id was accepted")
	}
}

func TestWatchDirectoryFollowsTheTopic(t *testing.T) {
	brokers := testenv.Kafka(t, tenancy.TopicTenants)
	prov := tenancy.NewProvisioner(brokers, "/test")
	defer prov.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := tenancy.LocalID("demo")
	if id != tenancy.LocalID("demo") || id == tenancy.LocalID("demo-2") {
		t.Fatal("local ids are not stable per name")
	}
	if err := prov.Publish(ctx, &tenancyv1.TenantRecord{Id: id.String(), Name: "demo", Generation: 1}); err != nil {
		t.Fatal(err)
	}
	d := tenancy.NewDirectory()
	if err := tenancy.WatchDirectory(ctx, brokers, d); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the directory never learned the tenant", func() bool {
		tn, ok := d.Lookup(id)
		return ok && tn.Name == "demo"
	})
	// A tombstone makes the tenant unknown again.
	if err := prov.Tombstone(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the directory kept a tombstoned tenant", func() bool {
		_, ok := d.Lookup(id)
		return !ok
	})
}

func waitFor(ctx context.Context, t *testing.T, failure string, ok func() bool) {
	t.Helper()
	for !ok() {
		if ctx.Err() != nil {
			t.Fatal(errors.New(failure))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A record another replica applied (here written straight into the tenants
// table, as that replica's applier does) reaches this replica's directory
// at its next refresh, and so does every later generation of it.
func TestDirectoryLearnsRecordsAppliedElsewhere(t *testing.T) {
	r := setup(t)
	ctx := context.Background()
	id := uuid.New()
	for gen := int64(1); gen <= 3; gen++ {
		rec := &tenancyv1.TenantRecord{Id: id.String(), Name: "elsewhere", Generation: gen, Suspended: gen == 2}
		raw, err := proto.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := postgres.InTenant(ctx, r.pool, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tenants (tenant_id, name, record, generation, suspended) values ($1, $2, $3, $4, $5)
				on conflict (tenant_id) do update set record = excluded.record, generation = excluded.generation, suspended = excluded.suspended`,
				id, rec.GetName(), raw, gen, rec.GetSuspended())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if tn, ok := r.dir.Lookup(id); ok && tn.Generation == gen && tn.Suspended == (gen == 2) {
				break
			}
			if time.Now().After(deadline) {
				tn, ok := r.dir.Lookup(id)
				t.Fatalf("generation %d not in the directory after 10s: have %+v %v", gen, tn, ok)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
