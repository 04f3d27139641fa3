-- +goose Up
-- Platform tables shared by every service. Row-level security is forced on
-- each: the service role sees one tenant's rows (app.tenant_id), and only the
-- platform machinery's system scope (app.system) sees across tenants.

create table outbox (
    seq          bigint generated always as identity,
    tenant_id    uuid not null,
    id           uuid not null,
    topic        text not null,
    key          bytea not null,
    type         text not null,
    subject      text not null default '',
    payload      bytea not null,
    headers      jsonb not null default '{}',
    created_at   timestamptz not null default clock_timestamp(),
    primary key (seq)
);
alter table outbox enable row level security;
alter table outbox force row level security;
create policy outbox_scope on outbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');

create table inbox (
    tenant_id    uuid not null,
    consumer     text not null,
    event_id     uuid not null,
    processed_at timestamptz not null default now(),
    primary key (tenant_id, consumer, event_id)
);
alter table inbox enable row level security;
alter table inbox force row level security;
create policy inbox_scope on inbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');

create table idempotency_keys (
    tenant_id    uuid not null,
    key          text not null,
    request_hash bytea not null,
    status       int,
    headers      jsonb,
    body         bytea,
    created_at   timestamptz not null default now(),
    primary key (tenant_id, key)
);
alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;
create policy idempotency_keys_scope on idempotency_keys
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create table tenants (
    tenant_id    uuid not null,
    name         text not null,
    record       bytea not null,
    generation   bigint not null,
    suspended    boolean not null default false,
    state        text not null default 'active',
    updated_at   timestamptz not null default now(),
    primary key (tenant_id)
);
alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenants_scope on tenants
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');

-- +goose Down
drop table tenants;
drop table idempotency_keys;
drop table inbox;
drop table outbox;
