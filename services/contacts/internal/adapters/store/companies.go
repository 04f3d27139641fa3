package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Companies is the PostgreSQL repository of companies.
type Companies struct{ pool *pgxpool.Pool }

// NewCompanies returns a repository over pool (connected as the app role).
func NewCompanies(pool *pgxpool.Pool) *Companies { return &Companies{pool: pool} }

var _ service.CompanyRepository = (*Companies)(nil)

const companyColumns = `id, tenant_id, name, legal_name, tax_id, registration_number, legal_address, industry, website,
	phones, emails, owner_id, tags, version, created_at, updated_at, custom`

func scanCompany(row pgx.Row) (*domain.Company, error) {
	var (
		id, tenant       uuid.UUID
		f                domain.CompanyFields
		version          int64
		created, updated time.Time
	)
	if err := row.Scan(&id, &tenant, &f.Name, &f.LegalName, &f.TaxID, &f.RegistrationNumber, &f.LegalAddress, &f.Industry,
		&f.Website, &f.Phones, &f.Emails, &f.OwnerID, &f.Tags, &version, &created, &updated, &f.Custom); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, domain.ErrCompanyNotFound
		}
		return nil, err
	}
	return domain.UnmarshalCompanyFromDatabase(id, tenant, f, version, created, updated), nil
}

func companyValues(c *domain.Company) []any {
	f := c.Fields()
	return []any{c.ID(), c.TenantID(), f.Name, f.LegalName, f.TaxID, f.RegistrationNumber, f.LegalAddress, f.Industry,
		f.Website, f.Phones, f.Emails, f.OwnerID, f.Tags, c.Version(), c.CreatedAt(), c.UpdatedAt()}
}

// Create writes the company and its events in one pipelined round trip.
// Unless o allows duplicates, a company whose key (domain.Company.Key)
// another company holds is refused with domain.ErrDuplicateCompanies: the
// statement that scopes the transaction locks the company's keys, and the
// one that writes it checks first (see Contacts.Create, which works the
// same way), so two concurrent creates of one company make one.
func (r *Companies) Create(ctx context.Context, c *domain.Company, o service.WriteOptions, evs func(*domain.Company) ([]events.Event, error)) error {
	list, err := evs(c)
	if err != nil {
		return err
	}
	writes := &pgx.Batch{}
	writes.Queue(`insert into companies (`+companyColumns+`, search) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
		append(companyValues(c), customValue(c.Fields().Custom), c.SearchText())...)
	if err := events.QueueAppend(ctx, writes, list...); err != nil {
		return err
	}
	lock := &pgx.QueuedQuery{SQL: lockKeysValue, Arguments: []any{c.TenantID(), companyLocks(c)}}
	b := &pgx.Batch{}
	if o.AllowDuplicate {
		b.QueuedQueries = append(b.QueuedQueries, postgres.Chain(writes.QueuedQueries...))
	} else {
		taxes, names := companyKeyArgs(c.Key())
		check := &pgx.QueuedQuery{SQL: checkCompanyKey, Arguments: []any{c.TenantID(), taxes, names, c.ID(), c.Key()}}
		b.QueuedQueries = append(b.QueuedQueries, postgres.ChainChecked(check, writes.QueuedQueries...))
	}
	err = postgres.InTenantBatchWith(ctx, r.pool, c.TenantID(), lock, b)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeDuplicate {
		return err
	}
	// Read after the failed transaction: every holder, not only the first.
	var dups []domain.Duplicate
	if qerr := postgres.InTenant(ctx, r.pool, c.TenantID(), func(tx pgx.Tx) (err error) {
		dups, err = companyDuplicates(ctx, tx, c.TenantID(), c.ID(), c.Key())
		return err
	}); qerr != nil || len(dups) == 0 {
		return err
	}
	return domain.ErrDuplicateCompanies(dups)
}

// A company's key (domain.Company.Key) is held by the companies with its
// tax id, or, for a name's key, by those of that name in any case.
// companyHeld selects them: $2 are the tax ids and $3 the lower-case names
// of the keys (companyKeyArgs), $4 a company that does not count (the one
// written). The import looks companies up by the same condition.
const (
	companyHeld = `tenant_id = $1 and id <> $4 and ((tax_id <> '' and tax_id = any($2)) or lower(name) = any($3))`
	// checkCompanyKey aborts the transaction (SQLSTATE RP409) when another
	// company holds key $5 (one of $2, $3).
	checkCompanyKey = `select contacts_duplicate(id, $5) from companies where ` + companyHeld + ` limit 1`
)

// companyKeyArgs are the arguments of companyHeld for keys: never null, so
// that each condition is a plain comparison with an array.
func companyKeyArgs(keys ...string) (taxes, names []string) {
	taxes, names = domain.CompanyKeyParts(keys)
	if taxes == nil {
		taxes = []string{}
	}
	if names == nil {
		names = []string{}
	}
	return taxes, names
}

// companyLocks are the advisory locks a company's write takes (with
// lockKeys, sorted): its key, and its name's key, which a company without
// a tax id of that name would check against it.
func companyLocks(c *domain.Company) []string {
	return keyDiff(nil, []string{c.Key(), c.NameKey()})
}

// companyHolder is a company that holds some of the keys looked up.
type companyHolder struct {
	id   uuid.UUID
	keys []string
}

// companyHolders lists the companies but except that hold any of keys,
// oldest first, with the keys each holds.
func companyHolders(ctx context.Context, tx pgx.Tx, tenantID, except uuid.UUID, keys []string) ([]companyHolder, error) {
	taxes, names := companyKeyArgs(keys...)
	rows, err := tx.Query(ctx, `select id, tax_id, lower(name) from companies where `+companyHeld+` order by created_at, id`,
		tenantID, taxes, names, except)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (companyHolder, error) {
		var h companyHolder
		var tax, name string
		err := row.Scan(&h.id, &tax, &name)
		h.keys = domain.CompanyKeysOf(tax, name, keys)
		return h, err
	})
}

// companyDuplicates are the companies but except holding key, as a
// duplicate-company problem lists them.
func companyDuplicates(ctx context.Context, tx pgx.Tx, tenantID, except uuid.UUID, key string) ([]domain.Duplicate, error) {
	holders, err := companyHolders(ctx, tx, tenantID, except, []string{key})
	dups := make([]domain.Duplicate, len(holders))
	for i, h := range holders {
		dups[i] = domain.Duplicate{ID: &h.id, Why: h.keys}
	}
	return dups, err
}

func (r *Companies) Get(ctx context.Context, tenantID, id uuid.UUID) (c *domain.Company, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err = scanCompany(tx.QueryRow(ctx, `select `+companyColumns+` from companies where tenant_id = $1 and id = $2`, tenantID, id))
		return err
	})
	return c, err
}

const updateCompany = `update companies set name=$3, legal_name=$4, tax_id=$5, registration_number=$6,
	legal_address=$7, industry=$8, website=$9, phones=$10, emails=$11, owner_id=$12, tags=$13, version=$14,
	updated_at=$15, search=$16, custom=$17 where tenant_id=$2 and id=$1`

// Update locks the company, lets fn change it and stores it. A change of
// its key (a new tax id, or a new name without one) locks the new keys and,
// unless o allows duplicates, is refused like a create when another company
// holds the new key.
func (r *Companies) Update(ctx context.Context, tenantID, id uuid.UUID, o service.WriteOptions, fn func(*domain.Company) ([]events.Event, error)) (c *domain.Company, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err = scanCompany(tx.QueryRow(ctx, `select `+companyColumns+` from companies where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		key, nameKey := c.Key(), c.NameKey()
		list, err := fn(c)
		if err != nil || len(list) == 0 {
			return err
		}
		if c.Key() != key || c.NameKey() != nameKey {
			// Locked before the check, which then sees every write that
			// held the lock first (each statement takes a new snapshot).
			if _, err := tx.Exec(ctx, lockKeys, tenantID, companyLocks(c)); err != nil {
				return err
			}
			if c.Key() != key && !o.AllowDuplicate {
				dups, err := companyDuplicates(ctx, tx, tenantID, id, c.Key())
				if err != nil {
					return err
				}
				if len(dups) > 0 {
					return domain.ErrDuplicateCompanies(dups)
				}
			}
		}
		if _, err := tx.Exec(ctx, updateCompany,
			append(withoutCreatedAt(companyValues(c)), c.SearchText(), customValue(c.Fields().Custom))...); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
	return c, err
}

func (r *Companies) Delete(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Company) ([]events.Event, error)) error {
	err := postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err := scanCompany(tx.QueryRow(ctx, `select `+companyColumns+` from companies where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(c)
		if err != nil {
			return err
		}
		// The company's own activities go with it; those that concern a
		// contact stay in the contact's timeline (the foreign key clears
		// their company).
		if _, err := tx.Exec(ctx, `delete from activities where tenant_id = $1 and company_id = $2 and contact_id is null`, tenantID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `delete from companies where tenant_id = $1 and id = $2`, tenantID, id); err != nil {
			return err
		}
		return events.Append(ctx, tx, list...)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeForeignKey {
		return domain.ErrCompanyHasContacts
	}
	return err
}

func (r *Companies) List(ctx context.Context, tenantID uuid.UUID, q service.CompanyQuery, limit int) (cs []*domain.Company, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		w := where{args: []any{tenantID}}
		w.add("tenant_id = $1")
		w.add("id > $?", q.After.ID)
		for _, word := range q.SearchWords {
			w.add("search like $?", likeFragment(word))
		}
		rows, err := tx.Query(ctx, `select `+companyColumns+` from companies where `+strings.Join(w.conds, " and ")+
			` order by id limit `+w.arg(limit), w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCompany(rows)
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		return rows.Err()
	})
	return cs, err
}
