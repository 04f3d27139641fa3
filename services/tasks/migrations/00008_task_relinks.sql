-- +goose Up
-- Where a merge took a task from: an unmerge gives the restored contact
-- its tasks back (the last merge that moved a task wins).
create table task_relinks (
    tenant_id    uuid not null,
    task_id      uuid not null,
    from_contact uuid not null,
    to_contact   uuid not null,
    primary key (tenant_id, task_id)
);
select tenant_rls('task_relinks');

-- +goose Down
drop table task_relinks;
