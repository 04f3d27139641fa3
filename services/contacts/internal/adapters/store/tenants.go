package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Tenants is the contacts service's part of applying a tenant record.
type Tenants struct{}

// Apply starts or stops counting the tenant's contacts as its contacts
// quota appears or goes, and seeds a new tenant's lead sources, in its
// locale's language; a tenant that has some (every generation after the
// first) keeps its own.
func (Tenants) Apply(ctx context.Context, tx pgx.Tx, rec *tenancyv1.TenantRecord) error {
	id, err := uuid.Parse(rec.GetId())
	if err != nil {
		return err
	}
	if err := countContacts(ctx, tx, id, rec.GetQuotas().GetContacts() > 0); err != nil {
		return err
	}
	var has bool
	if err := tx.QueryRow(ctx, `select exists (select 1 from lead_sources where tenant_id = $1)`, id).Scan(&has); err != nil || has {
		return err
	}
	return insertLeadSources(ctx, tx, id, domain.DefaultLeadSources(rec.GetLocale()))
}

// countContacts makes the tenant counted in contact_counts (want) or not.
// Only a tenant with a contacts quota is counted (migration 00018): the
// others' creates write no counter. The count starts from an exact recount
// of the tenant's live contacts, while its writes go on.
//
// It first takes the tenant's "contacts count" lock exclusively, until the
// applier's transaction commits. Every write of contacts takes that lock
// shared in its trigger before it looks the tenant up in
// contact_counted_tenants, and holds it until it commits. So once the lock
// is granted here, each write that looked before the tenant was listed
// (and did not count its contacts) has committed, and the recount, a later
// statement, sees its contacts; each write that looks afterwards waits for
// this commit, then finds the tenant listed and counts its own contacts,
// which the recount did not see. No contact is missed or counted twice.
// The recount must stay a statement of its own, after the lock's: a
// statement's snapshot is taken when it starts.
func countContacts(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, want bool) error {
	if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(contacts_count_lock($1))`, tenantID); err != nil {
		return err
	}
	var counted bool
	if err := tx.QueryRow(ctx, `select exists (select 1 from contact_counted_tenants where tenant_id = $1)`, tenantID).Scan(&counted); err != nil {
		return err
	}
	var stmts []string
	switch {
	case want && !counted:
		stmts = []string{
			`insert into contact_counted_tenants (tenant_id) values ($1)`,
			// Rows of an earlier count, if any, are stale.
			`delete from contact_counts where tenant_id = $1`,
			// Live as 00017 defines it: in contacts and not erased.
			`insert into contact_counts (tenant_id, shard, live)
				select $1, 0, count(*) from contacts where tenant_id = $1 and erased_at is null having count(*) > 0`,
		}
	case !want && counted:
		stmts = []string{
			`delete from contact_counted_tenants where tenant_id = $1`,
			`delete from contact_counts where tenant_id = $1`,
		}
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt, tenantID); err != nil {
			return err
		}
	}
	return nil
}

// Purge removes the tenant's client base (deletionPolicy Delete); the
// transaction is scoped to that tenant, so RLS bounds the delete too.
// Contacts go first (their activities follow them), and companies are free
// of contacts afterwards.
func (Tenants) Purge(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	// The tenant is no longer counted: its contacts go without a counter
	// update, and its count with them.
	if err := countContacts(ctx, tx, tenantID, false); err != nil {
		return err
	}
	for _, stmt := range []string{
		`delete from contact_keys where tenant_id = $1`,
		`delete from timeline where tenant_id = $1`,
		`delete from imports where tenant_id = $1`,
		`delete from merges where tenant_id = $1`,
		`delete from contacts where tenant_id = $1`,
		`delete from contact_counts where tenant_id = $1`,
		`delete from companies where tenant_id = $1`,
		`delete from fields where tenant_id = $1`,
		`delete from lead_sources where tenant_id = $1`,
		`delete from idempotency_keys where tenant_id = $1`,
	} {
		if _, err := tx.Exec(ctx, stmt, tenantID); err != nil {
			return err
		}
	}
	return nil
}
