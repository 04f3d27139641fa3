-- +goose Up
-- A task: a planned next step of its owner. The first cut holds what every
-- list and visibility check needs; kinds, links and chains come next.
create table tasks (
    tenant_id  uuid not null,
    id         uuid not null,
    subject    text not null,
    status     text not null check (status in ('open', 'done', 'cancelled')),
    due_at     timestamptz,
    owner_id   text not null,
    team       text not null,
    version    bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);
create index tasks_owner on tasks (tenant_id, owner_id, id);
create index tasks_team on tasks (tenant_id, team, id);

alter table tasks enable row level security;
alter table tasks force row level security;
create policy tasks_tenant on tasks
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table tasks;
