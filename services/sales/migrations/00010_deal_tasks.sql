-- +goose Up
-- The tasks about deals, as the tasks service's events tell them: enough
-- to show each deal's next step (its open task due first) on the deal and
-- the board, and to list the open deals with none or with a late one. A
-- row is replaced only by a newer version of its task.
create table deal_tasks (
    tenant_id uuid not null,
    task_id   uuid not null,
    deal_id   uuid,
    status    text not null,
    kind      text not null,
    due_at    timestamptz,
    due_date  date,
    version   bigint not null,
    primary key (tenant_id, task_id)
);
create index deal_tasks_open on deal_tasks (tenant_id, deal_id, due_at, due_date) where status = 'open';
select tenant_rls('deal_tasks');

-- +goose Down
drop table deal_tasks;
