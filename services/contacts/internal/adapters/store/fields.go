package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Fields is the PostgreSQL repository of custom field definitions.
type Fields struct{ pool *pgxpool.Pool }

// NewFields returns a repository over pool (connected as the app role).
func NewFields(pool *pgxpool.Pool) *Fields { return &Fields{pool: pool} }

var _ service.FieldRepository = (*Fields)(nil)

const fieldColumns = `id, tenant_id, entity, key, label, type, required, options, position, version, created_at, updated_at`

func scanField(row pgx.Row) (*domain.Field, error) {
	var (
		id, tenant       uuid.UUID
		d                domain.FieldDef
		version          int64
		created, updated time.Time
	)
	if err := row.Scan(&id, &tenant, &d.Entity, &d.Key, &d.Label, &d.Type, &d.Required, &d.Options, &d.Position,
		&version, &created, &updated); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, domain.ErrFieldNotFound
		}
		return nil, err
	}
	return domain.UnmarshalFieldFromDatabase(id, tenant, d, version, created, updated), nil
}

var errFieldKeyTaken = func() error {
	var v apperr.Invalid
	v.Add("key", "another field of this entity has this key")
	return v.Err()
}()

// Create stores the field, under an advisory lock per tenant that orders
// concurrent definitions: each counts the fields committed before it, so
// the tenant never holds more than domain.MaxFields, and one defined
// without a position (atEnd) takes the highest of its entity plus one, so
// two never take the same. It returns the field as stored.
func (r *Fields) Create(ctx context.Context, f *domain.Field, atEnd bool, evs []events.Event) (stored *domain.Field, err error) {
	d := f.Def()
	err = postgres.InTenant(ctx, r.pool, f.TenantID(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockKeys, f.TenantID(), []string{"fields"}); err != nil {
			return err
		}
		// A statement after the lock: its snapshot holds every field
		// committed by whoever held the lock before.
		var n, next int
		if err := tx.QueryRow(ctx, `select count(*), coalesce(max(position) filter (where entity = $2) + 1, 0)
			from fields where tenant_id = $1`, f.TenantID(), d.Entity).Scan(&n, &next); err != nil {
			return err
		}
		if n >= domain.MaxFields {
			return domain.ErrTooManyFields
		}
		if atEnd {
			d.Position = next
		}
		if _, err := tx.Exec(ctx, `insert into fields (`+fieldColumns+`) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, f.ID(), f.TenantID(),
			d.Entity, d.Key, d.Label, d.Type, d.Required, d.Options, d.Position, f.Version(), f.CreatedAt(), f.UpdatedAt()); err != nil {
			return err
		}
		return events.Append(ctx, tx, evs...)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return nil, errFieldKeyTaken
	}
	if err != nil {
		return nil, err
	}
	return domain.UnmarshalFieldFromDatabase(f.ID(), f.TenantID(), d, f.Version(), f.CreatedAt(), f.UpdatedAt()), nil
}

func (r *Fields) Get(ctx context.Context, tenantID, id uuid.UUID) (f *domain.Field, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		f, err = scanField(tx.QueryRow(ctx, `select `+fieldColumns+` from fields where tenant_id = $1 and id = $2`, tenantID, id))
		return err
	})
	return f, err
}

func (r *Fields) Update(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Field) ([]events.Event, error)) (f *domain.Field, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		f, err = scanField(tx.QueryRow(ctx, `select `+fieldColumns+` from fields where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(f)
		if err != nil || len(list) == 0 {
			return err
		}
		d := f.Def()
		if _, err := tx.Exec(ctx, `update fields set label=$3, required=$4, options=$5, position=$6, version=$7, updated_at=$8
			where tenant_id=$1 and id=$2`, tenantID, id, d.Label, d.Required, d.Options, d.Position, f.Version(), f.UpdatedAt()); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
	return f, err
}

// Delete removes the definition and its values from every record of its
// entity, in one transaction.
func (r *Fields) Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Field) ([]events.Event, error)) error {
	return postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		f, err := scanField(tx.QueryRow(ctx, `select `+fieldColumns+` from fields where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(f)
		if err != nil {
			return err
		}
		// A deal field's values live in the sales service, which drops them
		// on the crm.field.deleted event.
		if table, ok := map[string]string{domain.EntityContact: "contacts", domain.EntityCompany: "companies"}[f.Def().Entity]; ok {
			if _, err := tx.Exec(ctx, `update `+table+` set custom = custom - $2 where tenant_id = $1 and custom ? $2`, tenantID, f.Def().Key); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `delete from fields where tenant_id = $1 and id = $2`, tenantID, id); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
}

// List returns the tenant's fields (of one entity when entity is set), by
// entity, position and key.
func (r *Fields) List(ctx context.Context, tenantID uuid.UUID, entity string) (fs []*domain.Field, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+fieldColumns+` from fields where tenant_id = $1 and ($2 = '' or entity = $2)
			order by entity, position, key`, tenantID, entity)
		if err != nil {
			return err
		}
		fs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Field, error) { return scanField(row) })
		return err
	})
	return fs, err
}
