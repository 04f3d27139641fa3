-- +goose Up
-- Time-driven events: crm.task.due_soon and crm.task.overdue, once per
-- occurrence of a task (a due time). reminded_for and overdue_for hold the
-- due time whose event was published (or, for a reminder whose moment had
-- passed when the task was planned, skipped): a worker publishes only for
-- open tasks whose marker differs from their due time, and sets it in the
-- same transaction as the event, so a job run twice publishes nothing more.
-- remind_at is when the reminder of the current due time is due (null:
-- none, as when the tenant reminds nobody or the moment had passed).
alter table tasks
    add column remind_at    timestamptz,
    add column reminded_for timestamptz,
    add column overdue_for  timestamptz;
-- The open tasks of a tenant by due time and by reminder time: what a
-- due-time job scans.
create index tasks_due on tasks (tenant_id, due_at) where status = 'open' and due_at is not null;
create index tasks_remind on tasks (tenant_id, remind_at) where status = 'open' and remind_at is not null;

-- river's scheduler plans poorly on stale statistics of a job table that
-- just grew by a burst (a minute of 100,000 due tasks): analyze it early.
alter table river.river_job set (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);

-- +goose Down
alter table river.river_job reset (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
drop index tasks_remind;
drop index tasks_due;
alter table tasks drop column remind_at, drop column reminded_for, drop column overdue_for;
