-- +goose Up
-- Custom field values of deals, checked against the tenant's deal field
-- definitions (defined at /v1/fields in the contacts service, learnt here
-- from its crm.field.* events).
alter table deals add column custom jsonb not null default '{}';

create table fields (
    tenant_id uuid not null,
    id        uuid not null,
    key       text not null,
    label     text not null default '',
    type      text not null,
    required  boolean not null default false,
    options   text[] not null default '{}',
    version   bigint not null,
    primary key (tenant_id, id)
);
alter table fields enable row level security;
alter table fields force row level security;
create policy fields_tenant on fields
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table fields;
alter table deals drop column custom;
