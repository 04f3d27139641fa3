-- +goose Up
-- What sales knows of the contacts service's client base, built from
-- crm.contacts.events.v1: enough to refuse a deal about a contact that does
-- not exist, to re-link deals when contacts merge, and to forget a person
-- who is erased. version orders updates (events of one record arrive in
-- order, but a merge reports its sources under the target's key).
create table contacts (
    tenant_id   uuid not null,
    id          uuid not null,
    company_id  uuid,
    name        text not null default '',
    deleted     boolean not null default false,
    erased      boolean not null default false,
    merged_into uuid,
    version     bigint not null,
    primary key (tenant_id, id)
);

create table companies (
    tenant_id uuid not null,
    id        uuid not null,
    name      text not null default '',
    deleted   boolean not null default false,
    version   bigint not null,
    primary key (tenant_id, id)
);

-- Deals re-linked by a merge, so an unmerge can take them back.
create table relinks (
    tenant_id    uuid not null,
    deal_id      uuid not null,
    from_contact uuid not null,
    to_contact   uuid not null,
    primary key (tenant_id, deal_id, from_contact)
);
create index relinks_target on relinks (tenant_id, to_contact);

-- +goose StatementBegin
do $$
declare t text;
begin
    foreach t in array array['contacts', 'companies', 'relinks'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format($p$create policy %I on %I
            using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t || '_tenant', t);
    end loop;
end
$$;
-- +goose StatementEnd

-- +goose Down
drop table relinks, companies, contacts;
