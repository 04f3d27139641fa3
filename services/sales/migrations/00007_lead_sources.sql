-- +goose Up
-- The tenant's lead sources (the contacts service's /v1/lead-sources, learnt
-- from crm.lead_sources.changed or asked of it): a deal's source is one of
-- them, as a contact's is, so analytics can tell which channels bring buyers.
create table lead_sources (
    tenant_id uuid not null primary key,
    sources   text[] not null
);
alter table lead_sources enable row level security;
alter table lead_sources force row level security;
create policy lead_sources_tenant on lead_sources
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table lead_sources;
