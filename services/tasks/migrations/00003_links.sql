-- +goose Up
-- What a task is about: a deal, a contact, a company; the chain of attempts
-- it belongs to; and the client's time zone, taken from the contact (or the
-- deal's contact) and kept by the projection below.
alter table tasks
    add column deal_id          uuid,
    add column contact_id       uuid,
    add column company_id       uuid,
    add column previous_id      uuid,
    add column attempt          integer not null default 1 check (attempt >= 1),
    add column client_time_zone text not null default '';
create index tasks_deal on tasks (tenant_id, deal_id, status) where deal_id is not null;
create index tasks_contact on tasks (tenant_id, contact_id) where contact_id is not null;

-- The projection of the records tasks name, from the contacts and sales
-- services' events: enough to check that a caller may name one, to know a
-- client's time zone, and to keep every open deal's next step. A row is
-- replaced only by a newer version of its record.
create table known_contacts (
    tenant_id    uuid not null,
    id           uuid not null,
    time_zone    text not null,
    owner_id     text not null,
    team         text not null,
    shared_users text[] not null,
    shared_teams text[] not null,
    deleted      boolean not null,
    merged_into  uuid,
    version      bigint not null,
    primary key (tenant_id, id)
);
create table known_companies (
    tenant_id uuid not null,
    id        uuid not null,
    deleted   boolean not null,
    version   bigint not null,
    primary key (tenant_id, id)
);
create table known_deals (
    tenant_id  uuid not null,
    id         uuid not null,
    contact_id uuid,
    company_id uuid,
    owner_id   text not null,
    team       text not null,
    status     text not null,
    deleted    boolean not null,
    version    bigint not null,
    primary key (tenant_id, id)
);
create index known_deals_contact on known_deals (tenant_id, contact_id) where contact_id is not null;

select tenant_rls('known_contacts');
select tenant_rls('known_companies');
select tenant_rls('known_deals');

-- +goose Down
drop table known_deals;
drop table known_companies;
drop table known_contacts;
drop index tasks_contact;
drop index tasks_deal;
alter table tasks
    drop column deal_id, drop column contact_id, drop column company_id, drop column previous_id,
    drop column attempt, drop column client_time_zone;
