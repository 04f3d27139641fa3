-- +goose Up
-- When sales seeded a tenant's default pipeline and loss reasons. "Has no
-- pipeline" used to mean "not seeded yet", so a tenant that deleted all its
-- pipelines got the default one back with its record's next generation.
-- Tenants seeded before this table are recognised by what they hold.
create table tenant_setup (
    tenant_id uuid not null primary key,
    seeded_at timestamptz not null
);
alter table tenant_setup enable row level security;
alter table tenant_setup force row level security;
create policy tenant_setup_tenant on tenant_setup
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table tenant_setup;
