// Package store keeps the tasks service's records in PostgreSQL, every
// statement in a transaction scoped to one tenant (row-level security backs
// the filter).
package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/postgres"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// Tasks stores tasks.
type Tasks struct{ pool *pgxpool.Pool }

// NewTasks stores tasks in pool's database.
func NewTasks(pool *pgxpool.Pool) *Tasks { return &Tasks{pool: pool} }

// ListTasks reads the tasks v may see after q.After, oldest first: all of
// them for v.All, else v's own and, for v.TeamWide, v's team's.
func (s *Tasks) ListTasks(ctx context.Context, tenant uuid.UUID, v access.Viewer, q service.Query) ([]*domain.Task, error) {
	var out []*domain.Task
	err := postgres.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select id, subject, status, due_at, owner_id, team, version, created_at, updated_at
			from tasks
			where tenant_id = $1 and id > $2
			  and ($3 or (owner_id = $4 and $4 <> '') or ($5 and team = $6 and $6 <> ''))
			order by id limit $7`, tenant, q.After, v.All, v.UserID, v.TeamWide, v.Team, q.Limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) {
			var r domain.TaskRecord
			err := row.Scan(&r.ID, &r.Subject, &r.Status, &r.DueAt, &r.OwnerID, &r.Team, &r.Version, &r.CreatedAt, &r.UpdatedAt)
			return domain.UnmarshalTaskFromDatabase(r), err
		})
		return err
	})
	return out, err
}
