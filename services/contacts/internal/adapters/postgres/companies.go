package postgres

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
func (r *Companies) Create(ctx context.Context, c *domain.Company, evs func(*domain.Company) ([]events.Event, error)) error {
	list, err := evs(c)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`insert into companies (`+companyColumns+`, search) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
		append(companyValues(c), customValue(c.Fields().Custom), c.SearchText())...)
	if err := events.QueueAppend(ctx, b, list...); err != nil {
		return err
	}
	return postgres.InTenantBatch(ctx, r.pool, c.TenantID(), b)
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

func (r *Companies) Update(ctx context.Context, tenantID, id uuid.UUID, fn func(*domain.Company) ([]events.Event, error)) (c *domain.Company, err error) {
	err = postgres.InTenant(ctx, r.pool, tenantID, func(tx pgx.Tx) error {
		c, err = scanCompany(tx.QueryRow(ctx, `select `+companyColumns+` from companies where tenant_id = $1 and id = $2 for update`, tenantID, id))
		if err != nil {
			return err
		}
		list, err := fn(c)
		if err != nil || len(list) == 0 {
			return err
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
		w.add("id > $?", q.After)
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
