// Package postgres stores contacts in PostgreSQL. Every method owns its
// transaction, scoped to the tenant for row-level security, and writes the
// events of a change to the outbox in that same transaction.
package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Contacts is the PostgreSQL repository of contacts.
type Contacts struct{ pool *pgxpool.Pool }

// NewContacts returns a repository over pool (connected as the app role).
func NewContacts(pool *pgxpool.Pool) *Contacts { return &Contacts{pool: pool} }

var _ service.Repository = (*Contacts)(nil)

const columns = `id, tenant_id, first_name, last_name, emails, phones, owner_id, tags, version, created_at, updated_at`

func scan(row pgx.Row) (*domain.Contact, error) {
	var (
		id, tenant uuid.UUID
		f          domain.Fields
		version    int64
		created    time.Time
		updated    time.Time
	)
	if err := row.Scan(&id, &tenant, &f.FirstName, &f.LastName, &f.Emails, &f.Phones, &f.OwnerID, &f.Tags, &version, &created, &updated); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, domain.ErrContactNotFound
		}
		return nil, err
	}
	return domain.UnmarshalContactFromDatabase(id, tenant, f, version, created, updated), nil
}

// Create writes the contact and its events in one pipelined round trip: a new
// row needs no read first, and the pipeline commits as one transaction.
func (r *Contacts) Create(ctx context.Context, c *domain.Contact, evs func(*domain.Contact) ([]events.Event, error)) error {
	list, err := evs(c)
	if err != nil {
		return err
	}
	f := c.Fields()
	b := &pgx.Batch{}
	b.Queue(`insert into contacts (`+columns+`) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		c.ID(), c.TenantID(), f.FirstName, f.LastName, f.Emails, f.Phones, f.OwnerID, f.Tags, c.Version(), c.CreatedAt(), c.UpdatedAt())
	if err := events.QueueAppend(ctx, b, list...); err != nil {
		return err
	}
	return postgres.InTenantBatch(ctx, r.pool, c.TenantID(), b)
}

func (r *Contacts) Get(ctx context.Context, tenantID, id uuid.UUID) (c *domain.Contact, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err = scan(tx.QueryRow(ctx, `select `+columns+` from contacts where tenant_id = $1 and id = $2`, tenantID, id))
		return err
	})
	return c, err
}

func (r *Contacts) Update(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) (c *domain.Contact, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		// The row lock orders concurrent changes of one contact, and so the
		// outbox rows of their events (see events.Append).
		c, err = scan(tx.QueryRow(ctx, `select `+columns+` from contacts where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(c)
		if err != nil || len(list) == 0 {
			return err
		}
		f := c.Fields()
		if _, err := tx.Exec(ctx, `update contacts set first_name=$3, last_name=$4, emails=$5, phones=$6, owner_id=$7, tags=$8,
			version=$9, updated_at=$10 where tenant_id=$1 and id=$2`,
			tenantID, id, f.FirstName, f.LastName, f.Emails, f.Phones, f.OwnerID, f.Tags, c.Version(), c.UpdatedAt()); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
	return c, err
}

func (r *Contacts) Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Contact) ([]events.Event, error)) error {
	return postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err := scan(tx.QueryRow(ctx, `select `+columns+` from contacts where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `delete from contacts where tenant_id = $1 and id = $2`, tenantID, id); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
}

func (r *Contacts) List(ctx context.Context, tenantID uuid.UUID, after uuid.UUID, limit int) (cs []*domain.Contact, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+columns+` from contacts where tenant_id = $1 and id > $2 order by id limit $3`, tenantID, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scan(rows)
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		return rows.Err()
	})
	return cs, err
}
