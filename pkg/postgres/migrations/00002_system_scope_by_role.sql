-- +goose Up
-- The platform's machinery (the outbox relay, the tenant directory) used to
-- see every tenant's rows of outbox, inbox and tenants when app.system was
-- 'on': a setting the app role may set itself, so anyone holding the
-- service's credentials could read and change every tenant's rows there.
-- From here on the policies admit the app role by app.tenant_id only, and
-- what the machinery must do across tenants runs in the functions of schema
-- system below: SECURITY DEFINER functions owned by the role running this
-- migration (the owner role), each doing one narrow thing. The owner, and
-- only the owner, sees every row of the tables they read ("to current_user"
-- names the role running the migration). postgres.Migrate grants the app
-- role USAGE on the schema and EXECUTE on its functions, nothing more.

drop policy outbox_scope on outbox;
create policy outbox_tenant on outbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy outbox_owner on outbox to current_user using (true) with check (true);

drop policy inbox_scope on inbox;
create policy inbox_tenant on inbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

drop policy tenants_scope on tenants;
create policy tenants_tenant on tenants
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenants_owner on tenants to current_user using (true) with check (true);

-- A function gets EXECUTE for PUBLIC when it is created: each migration
-- that adds one revokes it (postgres.Migrate does so again for the whole
-- schema), since every function here is for the app role alone.
create schema system;

-- +goose StatementBegin
-- outbox_pending names the oldest unsent outbox rows, in sequence order: the
-- relay then reads each tenant's rows, payloads included, in that tenant's
-- scope. Only sequence numbers and tenant ids cross tenants here.
create function system.outbox_pending(p_limit integer) returns table (seq bigint, tenant_id uuid)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select o.seq, o.tenant_id from public.outbox o order by o.seq limit least(greatest(p_limit, 0), 10000)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- outbox_backlog is how many rows wait and how old the oldest is (seconds),
-- for the relay's gauges.
create function system.outbox_backlog() returns table (waiting bigint, age double precision)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select count(*), coalesce(extract(epoch from clock_timestamp() - min(o.created_at)), 0)::float8 from public.outbox o
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- tenant_records are the records of every tenant this service applied: the
-- directory every request is admitted by (names, states, quotas, hashes of
-- API keys). Read-only.
create function system.tenant_records() returns setof bytea
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select t.record from public.tenants t
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- tenants_version changes whenever a tenant record is applied (a new tenant,
-- or a later generation of one: generations only grow), so a directory
-- reloads only when something changed.
create function system.tenants_version() returns text
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select count(*) || '/' || coalesce(sum(t.generation), 0) from public.tenants t
$$;
-- +goose StatementEnd

revoke execute on all functions in schema system from public;

-- +goose Down
drop function system.tenants_version();
drop function system.tenant_records();
drop function system.outbox_backlog();
drop function system.outbox_pending(integer);
drop schema system;

drop policy tenants_owner on tenants;
drop policy tenants_tenant on tenants;
create policy tenants_scope on tenants
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');

drop policy inbox_tenant on inbox;
create policy inbox_scope on inbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');

drop policy outbox_owner on outbox;
drop policy outbox_tenant on outbox;
create policy outbox_scope on outbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');
