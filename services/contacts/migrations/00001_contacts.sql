-- +goose Up
create table contacts (
    tenant_id   uuid not null,
    id          uuid not null,
    first_name  text not null default '',
    last_name   text not null default '',
    emails      text[] not null default '{}',
    phones      text[] not null default '{}',
    owner_id    text not null,
    tags        text[] not null default '{}',
    version     bigint not null,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    primary key (tenant_id, id)
);
create index contacts_owner on contacts (tenant_id, owner_id, id);

alter table contacts enable row level security;
alter table contacts force row level security;
create policy contacts_tenant on contacts
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table contacts;
