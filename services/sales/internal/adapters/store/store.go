// Package store stores the sales model in PostgreSQL, every statement in
// a transaction scoped to one tenant (row-level security backs the filter).
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// repo is the store's statements in a transaction scoped to one tenant;
// the repositories (stores.go) own the transactions it runs in.
type repo struct {
	tx     pgx.Tx
	tenant uuid.UUID
}

func (r *repo) Publish(ctx context.Context, evs ...events.Event) error {
	return events.Append(ctx, r.tx, evs...)
}

func forUpdate(lock bool) string {
	if lock {
		return " for update"
	}
	return ""
}

var lockClause = map[service.Lock]string{service.NoLock: "", service.ForShare: " for share", service.ForUpdate: " for update"}

// --- pipelines ---

const stageCols = `id, pipeline_id, name, color, probability, kind, position, required_fields`

func (r *repo) Pipelines(ctx context.Context) ([]*domain.Pipeline, error) {
	rows, err := r.tx.Query(ctx, `select `+pipelineCols+` from pipelines where tenant_id = $1 order by created_at, id`, r.tenant)
	if err != nil {
		return nil, err
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pipelineRow, error) {
		var p pipelineRow
		return p, p.scan(row)
	})
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	stages, err := r.stages(ctx, `tenant_id = $1`, r.tenant)
	if err != nil {
		return nil, err
	}
	by := map[uuid.UUID][]domain.Stage{}
	for _, st := range stages {
		by[st.PipelineID] = append(by[st.PipelineID], st)
	}
	out := make([]*domain.Pipeline, len(ps))
	for i, p := range ps {
		out[i] = p.pipeline(r.tenant, by[p.id])
	}
	return out, nil
}

// pipelineRow is a pipeline's row, which its stages join.
type pipelineRow struct {
	id               uuid.UUID
	name             string
	version          int64
	created, updated time.Time
}

const pipelineCols = `id, name, version, created_at, updated_at`

func (p *pipelineRow) scan(row pgx.Row) error {
	return row.Scan(&p.id, &p.name, &p.version, &p.created, &p.updated)
}

func (p pipelineRow) pipeline(tenant uuid.UUID, stages []domain.Stage) *domain.Pipeline {
	return domain.UnmarshalPipelineFromDatabase(p.id, tenant, p.name, stages, p.version, p.created, p.updated)
}

func (r *repo) stages(ctx context.Context, where string, args ...any) ([]domain.Stage, error) {
	rows, err := r.tx.Query(ctx, `select `+stageCols+` from stages where `+where+` order by pipeline_id, position`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanStage)
}

func scanStage(row pgx.CollectableRow) (domain.Stage, error) {
	var st domain.Stage
	var kind string
	err := row.Scan(&st.ID, &st.PipelineID, &st.Name, &st.Color, &st.Probability, &kind, &st.Position, &st.RequiredFields)
	st.Kind = domain.Kind(kind)
	return st, err
}

func (r *repo) Pipeline(ctx context.Context, id uuid.UUID, lock service.Lock) (*domain.Pipeline, error) {
	var p pipelineRow
	err := p.scan(r.tx.QueryRow(ctx, `select `+pipelineCols+` from pipelines where tenant_id = $1 and id = $2`+lockClause[lock], r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrPipelineNotFound
	}
	if err != nil {
		return nil, err
	}
	stages, err := r.stages(ctx, `tenant_id = $1 and pipeline_id = $2`, r.tenant, id)
	if err != nil {
		return nil, err
	}
	return p.pipeline(r.tenant, stages), nil
}

func (r *repo) InsertPipeline(ctx context.Context, p *domain.Pipeline) error {
	if _, err := r.tx.Exec(ctx, `insert into pipelines (tenant_id, id, name, version, created_at, updated_at) values ($1, $2, $3, $4, $5, $6)`,
		r.tenant, p.ID(), p.Name(), p.Version(), p.CreatedAt(), p.UpdatedAt()); err != nil {
		return err
	}
	return r.saveStages(ctx, p)
}

func (r *repo) saveStages(ctx context.Context, p *domain.Pipeline) error {
	b := &pgx.Batch{}
	ids := make([]uuid.UUID, len(p.Stages()))
	for i, st := range p.Stages() {
		ids[i] = st.ID
		b.Queue(`insert into stages (tenant_id, `+stageCols+`) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			on conflict (tenant_id, id) do update set name = excluded.name, color = excluded.color, probability = excluded.probability,
			kind = excluded.kind, position = excluded.position, required_fields = excluded.required_fields`,
			r.tenant, st.ID, p.ID(), st.Name, st.Color, st.Probability, string(st.Kind), st.Position, st.RequiredFields)
	}
	b.Queue(`delete from stages where tenant_id = $1 and pipeline_id = $2 and id <> all($3)`, r.tenant, p.ID(), ids)
	return r.tx.SendBatch(ctx, b).Close()
}

func (r *repo) SavePipeline(ctx context.Context, p *domain.Pipeline) error {
	if _, err := r.tx.Exec(ctx, `update pipelines set name = $3, version = $4, updated_at = $5 where tenant_id = $1 and id = $2`,
		r.tenant, p.ID(), p.Name(), p.Version(), p.UpdatedAt()); err != nil {
		return err
	}
	return r.saveStages(ctx, p)
}

func (r *repo) DeletePipeline(ctx context.Context, id uuid.UUID) error {
	b := &pgx.Batch{}
	b.Queue(`delete from stage_sums where tenant_id = $1 and stage_id in (select id from stages where tenant_id = $1 and pipeline_id = $2)`, r.tenant, id)
	b.Queue(`delete from stages where tenant_id = $1 and pipeline_id = $2`, r.tenant, id)
	b.Queue(`delete from pipelines where tenant_id = $1 and id = $2`, r.tenant, id)
	return r.tx.SendBatch(ctx, b).Close()
}

func (r *repo) exists(ctx context.Context, sql string, args ...any) (bool, error) {
	var ok bool
	err := r.tx.QueryRow(ctx, `select exists (`+sql+`)`, args...).Scan(&ok)
	return ok, err
}

func (r *repo) PipelineHasDeals(ctx context.Context, id uuid.UUID) (bool, error) {
	return r.exists(ctx, `select 1 from deals where tenant_id = $1 and pipeline_id = $2`, r.tenant, id)
}

func (r *repo) StageHasDeals(ctx context.Context, stage uuid.UUID) (bool, error) {
	return r.exists(ctx, `select 1 from deals where tenant_id = $1 and stage_id = $2`, r.tenant, stage)
}

// lacks says, per requirable field, when a deal lacks it.
var lacks = map[string]string{
	"amount": "amount is null", "contact_id": "contact_id is null", "company_id": "company_id is null",
	"expected_close_date": "expected_close_date is null", "source": "source = ''", "tags": "tags = '{}'",
}

func (r *repo) StageDealsMissing(ctx context.Context, stage uuid.UUID, fields []string) ([]string, error) {
	var missing []string
	for _, f := range fields {
		cond, ok := lacks[f]
		if !ok {
			return nil, fmt.Errorf("sales: no rule for required field %q", f)
		}
		has, err := r.exists(ctx, `select 1 from deals where tenant_id = $1 and stage_id = $2 and `+cond, r.tenant, stage)
		if err != nil {
			return nil, err
		}
		if has {
			missing = append(missing, f)
		}
	}
	return missing, nil
}

func (r *repo) MoveStageDeals(ctx context.Context, from uuid.UUID, to domain.Stage, actor string, now time.Time) ([]service.MovedDeal, error) {
	// In id order, so two statements moving many deals lock them in one order.
	rows, err := r.tx.Query(ctx, `
		with locked as (select id as deal, stage_entered_at as was from deals where tenant_id = $1 and stage_id = $2 order by id for update)
		update deals d set stage_id = $3, stage_entered_at = $4, version = d.version + 1, updated_at = $4
		from locked l where d.tenant_id = $1 and d.id = l.deal
		returning d.id, l.was`, r.tenant, from, to.ID, now)
	if err != nil {
		return nil, err
	}
	type moved struct {
		id  uuid.UUID
		was time.Time
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (moved, error) {
		var m moved
		return m, row.Scan(&m.id, &m.was)
	})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	out := make([]service.MovedDeal, len(list))
	ids, moveIDs := make([]uuid.UUID, len(list)), make([]uuid.UUID, len(list))
	for i, m := range list {
		mid, _ := uuid.NewV7()
		ids[i], moveIDs[i] = m.id, mid
		out[i] = service.MovedDeal{Move: domain.Move{ID: mid, DealID: m.id, FromStageID: from, ToStageID: to.ID, ActorID: actor, At: now},
			WasEnteredAt: m.was}
	}
	if _, err := r.tx.Exec(ctx, `insert into deal_moves (tenant_id, deal_id, id, from_stage_id, to_stage_id, actor_id, moved_at)
		select $1, d, m, $4, $5, $6, $7 from unnest($2::uuid[], $3::uuid[]) u(d, m)`, r.tenant, ids, moveIDs, from, to.ID, actor, now); err != nil {
		return nil, err
	}
	if _, err := r.tx.Exec(ctx, `delete from stage_sums where tenant_id = $1 and stage_id = $2`, r.tenant, from); err != nil {
		return nil, err
	}
	deals, err := r.dealsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Deal = deals[out[i].Move.DealID]
	}
	return out, nil
}

func (r *repo) dealsByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*domain.Deal, error) {
	rows, err := r.tx.Query(ctx, `select `+dealCols+` from deals where tenant_id = $1 and id = any($2)`, r.tenant, ids)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Deal, error) { return scanDeal(r.tenant, row) })
	out := make(map[uuid.UUID]*domain.Deal, len(list))
	for _, d := range list {
		out[d.ID()] = d
	}
	return out, err
}

// --- deals ---

const dealCols = `id, title, pipeline_id, stage_id, status, amount, currency, contact_id, company_id, owner_id, team,
	coalesce(to_char(expected_close_date, 'YYYY-MM-DD'), ''), source, tags, loss_reason_id, loss_comment, stage_entered_at, closed_at,
	version, created_at, updated_at, custom,
	(select array[t.task_id::text, t.kind, coalesce((extract(epoch from t.due_at) * 1000000)::bigint::text, ''), coalesce(t.due_date::text, ''),
			(coalesce(t.due_at < now(), false) or coalesce(t.due_date < current_date, false))::text]
		from deal_tasks t where t.tenant_id = deals.tenant_id and t.deal_id = deals.id and t.status = 'open'
		order by t.due_at nulls last, t.due_date nulls last, t.task_id limit 1)`

func scanDeal(tenant uuid.UUID, row pgx.Row) (*domain.Deal, error) {
	var (
		id               uuid.UUID
		v                domain.DealValues
		st               domain.DealStanding
		status           string
		contact, company *uuid.UUID
		reason           *uuid.UUID
		version          int64
		created, updated time.Time
		next             []string
	)
	err := row.Scan(&id, &v.Title, &st.PipelineID, &st.StageID, &status, &v.Amount, &v.Currency, &contact, &company, &v.OwnerID, &v.Team,
		&v.ExpectedCloseDate, &v.Source, &v.Tags, &reason, &st.LossComment, &st.StageEnteredAt, &st.ClosedAt, &version, &created, &updated, &v.Custom,
		&next)
	if err != nil {
		return nil, err
	}
	st.Status = domain.Status(status)
	v.ContactID, v.CompanyID, st.LossReasonID = ids.Of(contact), ids.Of(company), ids.Of(reason)
	return domain.UnmarshalDealFromDatabase(id, tenant, v, st, version, created, updated).WithNextStep(nextStep(next)), nil
}

// nextStep reads the next-step column: task id, kind, due time (Unix
// microseconds), due date
// and whether it is late, as text; nil for none.
func nextStep(cols []string) *domain.NextStep {
	if len(cols) != 5 {
		return nil
	}
	n := &domain.NextStep{Kind: cols[1], DueDate: cols[3], Overdue: cols[4] == "true"}
	n.TaskID, _ = uuid.Parse(cols[0])
	if cols[2] != "" {
		if micros, err := strconv.ParseInt(cols[2], 10, 64); err == nil {
			at := time.UnixMicro(micros).UTC()
			n.DueAt = &at
		}
	}
	return n
}

func nullDate(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r *repo) Deal(ctx context.Context, id uuid.UUID, lock bool) (*domain.Deal, error) {
	d, err := scanDeal(r.tenant, r.tx.QueryRow(ctx, `select `+dealCols+` from deals where tenant_id = $1 and id = $2`+forUpdate(lock), r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrDealNotFound
	}
	return d, err
}

// dealState reads, in one round trip, a deal, its pipeline and its moves,
// and for a write (lock) the tenant's rates, with the deal locked for
// update and its pipeline for share.
func (r *repo) dealState(ctx context.Context, id uuid.UUID, lock bool) (service.DealState, error) {
	share, update := "", ""
	if lock {
		share, update = " for share", " for update"
	}
	var st service.DealState
	var pl *pipelineRow
	var stages []domain.Stage
	const pipelineOf = `(select pipeline_id from deals where tenant_id = $1 and id = $2)`
	b := &pgx.Batch{}
	// The pipeline first, shared: its changes wait for the deal's, and a
	// deal's change waits for them (never the other way round, which could
	// deadlock with a stage deletion moving this deal).
	b.Queue(`select `+pipelineCols+` from pipelines where tenant_id = $1 and id = `+pipelineOf+share, r.tenant, id).
		QueryRow(func(row pgx.Row) error {
			var p pipelineRow
			err := p.scan(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // no deal, or its pipeline is gone: the next query says
			}
			pl = &p
			return err
		})
	b.Queue(`select `+dealCols+` from deals where tenant_id = $1 and id = $2`+update, r.tenant, id).QueryRow(func(row pgx.Row) error {
		d, err := scanDeal(r.tenant, row)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && pl == nil) {
			return domain.ErrDealNotFound
		}
		st.Deal = d
		return err
	})
	b.Queue(`select `+stageCols+` from stages where tenant_id = $1 and pipeline_id = `+pipelineOf+` order by position`, r.tenant, id).
		Query(func(rows pgx.Rows) (err error) {
			stages, err = pgx.CollectRows(rows, scanStage)
			return err
		})
	b.Queue(`select id, deal_id, from_stage_id, to_stage_id, actor_id, moved_at from deal_moves
		where tenant_id = $1 and deal_id = $2 order by moved_at, id`, r.tenant, id).Query(func(rows pgx.Rows) (err error) {
		st.Moves, err = pgx.CollectRows(rows, scanMove)
		return err
	})
	if lock {
		b.Queue(`select currency, rate::text, updated_at, updated_by from currency_rates where tenant_id = $1 order by currency`, r.tenant).
			Query(func(rows pgx.Rows) (err error) {
				st.Rates, err = pgx.CollectRows(rows, scanRate)
				return err
			})
	}
	if err := r.tx.SendBatch(ctx, b).Close(); err != nil {
		return st, err
	}
	st.Pipeline = pl.pipeline(r.tenant, stages)
	return st, nil
}

func (r *repo) saveDeal(ctx context.Context, d *domain.Deal, move *domain.Move, evs ...events.Event) error {
	b := &pgx.Batch{}
	b.Queue(updateDeal, dealArgs(r.tenant, d)...)
	if move != nil {
		queueMove(b, r.tenant, *move)
	}
	if err := events.QueueAppend(ctx, b, evs...); err != nil {
		return err
	}
	return r.tx.SendBatch(ctx, b).Close()
}

func dealArgs(tenant uuid.UUID, d *domain.Deal) []any {
	return []any{tenant, d.ID(), d.Title(), d.PipelineID(), d.StageID(), string(d.Status()), d.Amount(), d.Currency(), ids.Ptr(d.ContactID()), ids.Ptr(d.CompanyID()),
		d.OwnerID(), d.Team(), nullDate(d.ExpectedCloseDate()), d.Source(), d.Tags(), ids.Ptr(d.LossReasonID()), d.LossComment(), d.StageEnteredAt(), d.ClosedAt(),
		d.Version(), d.CreatedAt(), d.UpdatedAt(), d.Custom()}
}

func (r *repo) insertDeal(ctx context.Context, d *domain.Deal, first domain.Move, evs ...events.Event) error {
	b := &pgx.Batch{}
	b.Queue(`insert into deals (tenant_id, id, title, pipeline_id, stage_id, status, amount, currency, contact_id, company_id, owner_id, team,
		expected_close_date, source, tags, loss_reason_id, loss_comment, stage_entered_at, closed_at, version, created_at, updated_at, custom)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`, dealArgs(r.tenant, d)...)
	queueMove(b, r.tenant, first)
	if err := events.QueueAppend(ctx, b, evs...); err != nil {
		return err
	}
	return r.tx.SendBatch(ctx, b).Close()
}

const updateDeal = `update deals set title = $3, pipeline_id = $4, stage_id = $5, status = $6, amount = $7, currency = $8,
		contact_id = $9, company_id = $10, owner_id = $11, team = $12, expected_close_date = $13, source = $14, tags = $15,
		loss_reason_id = $16, loss_comment = $17, stage_entered_at = $18, closed_at = $19, version = $20, created_at = $21, updated_at = $22,
		custom = $23 where tenant_id = $1 and id = $2`

func (r *repo) deleteDeal(ctx context.Context, id uuid.UUID, evs ...events.Event) error {
	b := &pgx.Batch{}
	b.Queue(`delete from deal_moves where tenant_id = $1 and deal_id = $2`, r.tenant, id)
	b.Queue(`delete from deals where tenant_id = $1 and id = $2`, r.tenant, id)
	if err := events.QueueAppend(ctx, b, evs...); err != nil {
		return err
	}
	return r.tx.SendBatch(ctx, b).Close()
}

func queueMove(b *pgx.Batch, tenant uuid.UUID, m domain.Move) {
	b.Queue(`insert into deal_moves (tenant_id, deal_id, id, from_stage_id, to_stage_id, actor_id, moved_at) values ($1, $2, $3, $4, $5, $6, $7)`,
		tenant, m.DealID, m.ID, ids.Ptr(m.FromStageID), m.ToStageID, m.ActorID, m.At)
}

func scanMove(row pgx.CollectableRow) (domain.Move, error) {
	var m domain.Move
	var from *uuid.UUID
	err := row.Scan(&m.ID, &m.DealID, &from, &m.ToStageID, &m.ActorID, &m.At)
	m.FromStageID = ids.Of(from)
	return m, err
}

// visibility is the SQL condition of what v may see, with its arguments
// numbered from next.
func visibility(v service.Viewer, next int) (string, []any) {
	switch {
	case v.All:
		return "true", nil
	case v.TeamWide && v.Team != "":
		return fmt.Sprintf("(owner_id = $%d or team = $%d)", next, next+1), []any{v.UserID, v.Team}
	default:
		return fmt.Sprintf("owner_id = $%d", next), []any{v.UserID}
	}
}

func (r *repo) ListDeals(ctx context.Context, q service.DealQuery) ([]*domain.Deal, error) {
	where := []string{"tenant_id = $1"}
	args := []any{r.tenant}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.After != uuid.Nil {
		add("id > ?", q.After)
	}
	if q.PipelineID != uuid.Nil {
		add("pipeline_id = ?", q.PipelineID)
	}
	if q.StageID != uuid.Nil {
		add("stage_id = ?", q.StageID)
	}
	if q.OwnerID != "" {
		add("owner_id = ?", q.OwnerID)
	}
	if q.ContactID != uuid.Nil {
		add("contact_id = ?", q.ContactID)
	}
	if q.CompanyID != uuid.Nil {
		add("company_id = ?", q.CompanyID)
	}
	if q.Tag != "" {
		add("tags <> '{}' and tags @> array[?::text]", q.Tag)
	}
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if q.AmountMin != nil {
		add("amount >= ?", *q.AmountMin)
	}
	if q.AmountMax != nil {
		add("amount <= ?", *q.AmountMax)
	}
	if q.CloseFrom != "" {
		add("expected_close_date >= ?::date", q.CloseFrom)
	}
	if q.CloseTo != "" {
		add("expected_close_date <= ?::date", q.CloseTo)
	}
	const openTask = `select 1 from deal_tasks t where t.tenant_id = deals.tenant_id and t.deal_id = deals.id and t.status = 'open'`
	switch q.NextStep {
	case service.NextStepNone:
		where = append(where, "status = 'open'", "not exists ("+openTask+")")
	case service.NextStepOverdue:
		where = append(where, "status = 'open'", "exists ("+openTask+" and (t.due_at < now() or t.due_date < current_date))")
	}
	vis, vargs := visibility(q.Viewer, len(args)+1)
	where = append(where, vis)
	args = append(args, vargs...)
	args = append(args, q.Limit)
	rows, err := r.tx.Query(ctx, `select `+dealCols+` from deals where `+strings.Join(where, " and ")+
		` order by id limit $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Deal, error) { return scanDeal(r.tenant, row) })
}

// StageTotals reads the sums kept per stage, owner, team and currency:
// every row for those who see all, else the rows of their own deals (and
// of their team's, for managers and viewers; each (owner, team) row once).
func (r *repo) StageTotals(ctx context.Context, pipeline uuid.UUID, stages []uuid.UUID, v service.Viewer) ([]service.StageTotal, error) {
	vis, args := visibility(v, 3)
	rows, err := r.tx.Query(ctx, `select stage_id, currency, sum(deals)::bigint, sum(amount)::bigint from stage_sums
		where tenant_id = $1 and stage_id = any($2) and `+vis+` group by stage_id, currency`, append([]any{r.tenant, stages}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (service.StageTotal, error) {
		var t service.StageTotal
		return t, row.Scan(&t.StageID, &t.Currency, &t.Deals, &t.Amount)
	})
}

// FirstDeals takes each stage's newest arrivals: per stage, the first
// perStage entries of each visible range, merged.
func (r *repo) FirstDeals(ctx context.Context, stages []uuid.UUID, perStage int, v service.Viewer) (map[uuid.UUID][]*domain.Deal, error) {
	ranges := []string{"true"}
	var args []any
	switch {
	case v.All:
	case v.TeamWide && v.Team != "":
		ranges, args = []string{"owner_id = $4", "team = $5"}, []any{v.UserID, v.Team}
	default:
		ranges, args = []string{"owner_id = $4"}, []any{v.UserID}
	}
	parts := make([]string, len(ranges))
	for i, cond := range ranges {
		parts[i] = `(select ` + dealCols + ` from deals where tenant_id = $1 and stage_id = s.id and ` + cond + `
			order by stage_entered_at desc, id desc limit $3)`
	}
	rows, err := r.tx.Query(ctx, `select d.* from unnest($2::uuid[]) s(id) cross join lateral (
			select * from (`+strings.Join(parts, " union ")+`) u order by stage_entered_at desc, id desc limit $3) d`,
		append([]any{r.tenant, stages, perStage}, args...)...)
	if err != nil {
		return nil, err
	}
	deals, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Deal, error) { return scanDeal(r.tenant, row) })
	out := map[uuid.UUID][]*domain.Deal{}
	for _, d := range deals {
		out[d.StageID()] = append(out[d.StageID()], d)
	}
	return out, err
}

// --- loss reasons and rates ---

func scanReason(row pgx.Row) (*domain.LossReason, error) {
	var (
		id               uuid.UUID
		name             string
		position         int
		archived         bool
		version          int64
		created, updated time.Time
	)
	if err := row.Scan(&id, &name, &position, &archived, &version, &created, &updated); err != nil {
		return nil, err
	}
	return domain.UnmarshalLossReasonFromDatabase(id, name, position, archived, version, created, updated), nil
}

const reasonCols = `id, name, position, archived, version, created_at, updated_at`

func (r *repo) LossReasons(ctx context.Context) ([]*domain.LossReason, error) {
	rows, err := r.tx.Query(ctx, `select `+reasonCols+` from loss_reasons where tenant_id = $1 order by position, id`, r.tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.LossReason, error) { return scanReason(row) })
}

func (r *repo) LossReason(ctx context.Context, id uuid.UUID, lock bool) (*domain.LossReason, error) {
	lr, err := scanReason(r.tx.QueryRow(ctx, `select `+reasonCols+` from loss_reasons where tenant_id = $1 and id = $2`+forUpdate(lock), r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrLossReasonNotFound
	}
	return lr, err
}

func insertLossReason(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, lr *domain.LossReason) error {
	_, err := tx.Exec(ctx, `insert into loss_reasons (tenant_id, `+reasonCols+`) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tenant, lr.ID(), lr.Name(), lr.Position(), lr.Archived(), lr.Version(), lr.CreatedAt(), lr.UpdatedAt())
	return err
}

func (r *repo) UpdateLossReason(ctx context.Context, lr *domain.LossReason) error {
	_, err := r.tx.Exec(ctx, `update loss_reasons set name = $3, archived = $4, version = $5, updated_at = $6 where tenant_id = $1 and id = $2`,
		r.tenant, lr.ID(), lr.Name(), lr.Archived(), lr.Version(), lr.UpdatedAt())
	return err
}

func (r *repo) Rates(ctx context.Context) ([]service.CurrencyRate, error) {
	rows, err := r.tx.Query(ctx, `select currency, rate::text, updated_at, updated_by from currency_rates where tenant_id = $1 order by currency`, r.tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRate)
}

func scanRate(row pgx.CollectableRow) (service.CurrencyRate, error) {
	var cr service.CurrencyRate
	var rate string
	if err := row.Scan(&cr.Currency, &rate, &cr.UpdatedAt, &cr.UpdatedBy); err != nil {
		return cr, err
	}
	var err error
	cr.Rate, err = domain.ParseRate(rate)
	return cr, err
}

func (r *repo) SetRate(ctx context.Context, cr service.CurrencyRate) error {
	_, err := r.tx.Exec(ctx, `insert into currency_rates (tenant_id, currency, rate, updated_at, updated_by) values ($1, $2, $3::numeric, $4, $5)
		on conflict (tenant_id, currency) do update set rate = excluded.rate, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		r.tenant, cr.Currency, cr.Rate.FloatString(domain.RateDigits), cr.UpdatedAt, cr.UpdatedBy)
	return err
}
