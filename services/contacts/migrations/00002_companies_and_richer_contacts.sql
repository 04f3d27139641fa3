-- +goose Up
create table companies (
    tenant_id           uuid not null,
    id                  uuid not null,
    name                text not null,
    legal_name          text not null default '',
    tax_id              text not null default '',
    registration_number text not null default '',
    legal_address       text not null default '',
    industry            text not null default '',
    website             text not null default '',
    phones              text[] not null default '{}',
    emails              text[] not null default '{}',
    owner_id            text not null,
    tags                text[] not null default '{}',
    version             bigint not null,
    created_at          timestamptz not null,
    updated_at          timestamptz not null,
    primary key (tenant_id, id)
);
create index companies_name on companies (tenant_id, lower(name) text_pattern_ops);
create index companies_tax_id on companies (tenant_id, tax_id) where tax_id <> '';
alter table companies enable row level security;
alter table companies force row level security;
create policy companies_tenant on companies
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table contacts
    add column company_id       uuid,
    add column position         text not null default '',
    add column lifecycle_stage  text not null default 'lead',
    add column source           text not null default '',
    add column timezone         text not null default '',
    add column timezone_derived boolean not null default false,
    add column address          jsonb,
    add column birthday         date,
    add column custom           jsonb not null default '{}';
-- The foreign key carries the tenant: a contact can only name a company of
-- its own tenant, and a company with contacts cannot be deleted under them.
alter table contacts add constraint contacts_company
    foreign key (tenant_id, company_id) references companies (tenant_id, id);
create index contacts_company on contacts (tenant_id, company_id, id) where company_id is not null;

-- E-mails are compared case-insensitively from now on.
update contacts set emails = array(select lower(e) from unnest(emails) e);

-- contact_keys indexes every normalised channel of a contact ('email:…',
-- 'phone:+…'): duplicate checks and exact channel search read it.
create table contact_keys (
    tenant_id  uuid not null,
    key        text not null,
    contact_id uuid not null,
    primary key (tenant_id, key, contact_id),
    foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete cascade
);
create index contact_keys_contact on contact_keys (tenant_id, contact_id);
alter table contact_keys enable row level security;
alter table contact_keys force row level security;
create policy contact_keys_tenant on contact_keys
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
insert into contact_keys (tenant_id, key, contact_id)
    select tenant_id, 'email:' || e, id from contacts, unnest(emails) e
    union
    select tenant_id, 'phone:' || regexp_replace(p, '[^0-9+]', '', 'g'), id from contacts, unnest(phones) p;

-- +goose StatementBegin
-- contacts_claim_keys makes keys the channels of contact p_contact. Keys are
-- locked (in order, so two writers never deadlock) for the rest of the
-- transaction, so two concurrent writes of the same e-mail cannot both pass
-- the check. With p_check, a key that belongs to another contact raises
-- SQLSTATE RP409 with the duplicates as JSON in the detail; channels the
-- contact already holds are not checked again.
create function contacts_claim_keys(p_tenant uuid, p_contact uuid, p_keys text[], p_check boolean)
returns void language plpgsql as $$
declare
    dups text;
begin
    perform pg_advisory_xact_lock(hashtextextended(p_tenant::text || k, 0))
        from (select distinct k from unnest(p_keys) k order by 1) s;
    if p_check then
        select json_agg(json_build_object('id', contact_id, 'key', key) order by key, contact_id)::text into dups
            from contact_keys k
            where k.tenant_id = p_tenant and k.key = any(p_keys) and k.contact_id <> p_contact
              -- A channel the contact already has (kept with allow_duplicate)
              -- is no new duplicate.
              and not exists (select 1 from contact_keys mine
                              where mine.tenant_id = p_tenant and mine.contact_id = p_contact and mine.key = k.key);
        if dups is not null then
            raise exception using errcode = 'RP409', message = 'duplicate contact channels', detail = dups;
        end if;
    end if;
    delete from contact_keys where tenant_id = p_tenant and contact_id = p_contact and key <> all(p_keys);
    insert into contact_keys (tenant_id, key, contact_id)
        select distinct p_tenant, k, p_contact from unnest(p_keys) k
        on conflict do nothing;
end
$$;
-- +goose StatementEnd

-- +goose Down
drop function contacts_claim_keys(uuid, uuid, text[], boolean);
drop table contact_keys;
alter table contacts drop constraint contacts_company;
alter table contacts
    drop column company_id, drop column position, drop column lifecycle_stage, drop column source,
    drop column timezone, drop column timezone_derived, drop column address, drop column birthday,
    drop column custom;
drop table companies;
