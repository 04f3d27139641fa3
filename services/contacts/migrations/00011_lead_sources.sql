-- +goose Up
-- A tenant's lead sources: the channels its leads come through, which a
-- contact's (and later a deal's) source names by value. Seeded in the
-- tenant's language when the tenant is applied; its admins replace them.
create table lead_sources (
    tenant_id uuid not null,
    value     text not null,
    label     text not null,
    position  integer not null,
    primary key (tenant_id, value)
);
alter table lead_sources enable row level security;
alter table lead_sources force row level security;
create policy lead_sources_tenant on lead_sources
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table lead_sources;
