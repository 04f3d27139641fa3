-- +goose Up
-- What a manager plans: the kind of step, a note, a due time or an all-day
-- date, how long it takes, its priority; and how it ended.
alter table tasks
    add column kind             text not null default 'todo' check (kind in ('call', 'meeting', 'email', 'visit', 'todo')),
    add column note             text not null default '',
    add column due_date         date,
    add column duration_minutes integer not null default 0 check (duration_minutes between 0 and 1440),
    add column priority         text not null default 'normal' check (priority in ('low', 'normal', 'high')),
    add column outcome          text not null default '',
    add column result           text not null default '',
    add column closed_by        text not null default '',
    add column closed_at        timestamptz,
    add constraint tasks_one_due check (due_at is null or due_date is null);
alter table tasks alter column kind drop default, alter column priority drop default;
-- A user's open tasks by due time: the day's list and the overdue ones.
create index tasks_owner_due on tasks (tenant_id, owner_id, due_at) where status = 'open';

-- +goose Down
drop index tasks_owner_due;
alter table tasks
    drop constraint tasks_one_due,
    drop column kind, drop column note, drop column due_date, drop column duration_minutes,
    drop column priority, drop column outcome, drop column result, drop column closed_by, drop column closed_at;
