-- +goose Up
-- fields defines a tenant's custom fields per entity (contact, company;
-- deal later, in sales). Values live in the records' custom jsonb, keyed by
-- the field's key.
create table fields (
    tenant_id  uuid not null,
    id         uuid not null,
    entity     text not null,
    key        text not null,
    label      text not null,
    type       text not null,
    required   boolean not null default false,
    options    jsonb not null default '[]',
    position   int not null default 0,
    version    bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id),
    unique (tenant_id, entity, key)
);
alter table fields enable row level security;
alter table fields force row level security;
create policy fields_tenant on fields
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table companies add column custom jsonb not null default '{}';
-- Filters on custom values are jsonb containment (custom @> '{"key": value}').
-- Partial, like contacts_tags: records without custom values stay out.
create index contacts_custom on contacts using gin (custom jsonb_path_ops) where custom <> '{}';
create index companies_custom on companies using gin (custom jsonb_path_ops) where custom <> '{}';

-- +goose Down
drop index companies_custom;
drop index contacts_custom;
alter table companies drop column custom;
drop table fields;
