-- +goose Up
create table activities (
    tenant_id        uuid not null,
    id               uuid not null,
    kind             text not null,
    direction        text not null default '',
    outcome          text not null default '',
    duration_seconds bigint not null default 0,
    occurred_at      timestamptz not null,
    subject          text not null default '',
    body             text not null default '',
    contact_id       uuid,
    company_id       uuid,
    deal_id          uuid,
    owner_id         text not null,
    created_at       timestamptz not null,
    primary key (tenant_id, id),
    -- A contact's interactions go with it. A deleted company's go with it
    -- when they concern no contact (the repository deletes those); the
    -- others stay in their contact's history without the company.
    foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete cascade,
    foreign key (tenant_id, company_id) references companies (tenant_id, id) on delete set null (company_id)
);
create index activities_contact on activities (tenant_id, contact_id, occurred_at, id) where contact_id is not null;
create index activities_company on activities (tenant_id, company_id, occurred_at, id) where company_id is not null;
alter table activities enable row level security;
alter table activities force row level security;
create policy activities_tenant on activities
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- timeline holds what happened to a contact, newest first: its changes and
-- activities (written with them) and what other services publish about it
-- (written by the timeline consumer). id is the event's or activity's id,
-- so a redelivered event finds its entry already there.
create table timeline (
    tenant_id  uuid not null,
    contact_id uuid not null,
    at         timestamptz not null,
    id         uuid not null,
    type       text not null,
    source     text not null,
    actor      text not null default '',
    data       jsonb not null default '{}',
    primary key (tenant_id, contact_id, at, id),
    foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete cascade
);
create unique index timeline_entry on timeline (tenant_id, contact_id, id);
alter table timeline enable row level security;
alter table timeline force row level security;
create policy timeline_tenant on timeline
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table timeline;
drop table activities;
