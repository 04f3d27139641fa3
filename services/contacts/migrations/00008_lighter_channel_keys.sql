-- +goose Up
-- POST /v1/contacts spent most of its database time on its channel keys
-- (see docs/architecture.md, "The write path"):
--
-- * contacts_claim_keys, a PL/pgSQL function, planned its statements again
--   on every call; the service now sends plain statements in its pipeline
--   and only raises the duplicate error through contacts_duplicate.
-- * contact_keys and timeline are derived tables, written only in the
--   transaction that holds their contact (or, by the timeline consumer,
--   after locking it FOR SHARE). Their foreign keys cost a lookup of the
--   contact per row, on a plan each connection caches: made while the table
--   was nearly empty, it walked contacts_team instead of the primary key and
--   grew linear in the tenant's contacts until the next ANALYZE. Deleting a
--   contact (or purging a tenant) removes its keys and timeline explicitly.
-- * contact_keys_contact led with tenant_id, which made it a candidate for
--   the duplicate check (tenant_id, key) too, and the plan cached on a tiny
--   table chose it: a scan of all the tenant's keys. A contact id is unique
--   on its own.
alter table contact_keys drop constraint contact_keys_tenant_id_contact_id_fkey;
alter table timeline drop constraint timeline_tenant_id_contact_id_fkey;
drop index contact_keys_contact;
create index contact_keys_contact on contact_keys (contact_id);

-- +goose StatementBegin
-- contacts_duplicate raises SQLSTATE RP409 naming contact p_contact, which
-- holds key p_key, in its detail (JSON, as contacts_claim_keys did); the
-- duplicate check calls it for the first duplicate it meets.
create function contacts_duplicate(p_contact uuid, p_key text) returns boolean language plpgsql as $$
begin
    raise exception using errcode = 'RP409', message = 'duplicate contact channels',
        detail = json_build_array(json_build_object('id', p_contact, 'key', p_key))::text;
end
$$;
-- +goose StatementEnd
-- contacts_claim_keys stays for a service of the previous version still
-- running during a rolling upgrade; the next migration that may assume no
-- such service drops it.

-- +goose Down
drop function contacts_duplicate(uuid, text);
drop index contact_keys_contact;
create index contact_keys_contact on contact_keys (tenant_id, contact_id);
alter table contact_keys add foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete cascade;
alter table timeline add foreign key (tenant_id, contact_id) references contacts (tenant_id, id) on delete cascade;
