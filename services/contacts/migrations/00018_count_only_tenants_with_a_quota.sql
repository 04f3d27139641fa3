-- +goose Up
-- Migration 00017 counted the live contacts of every tenant, and the
-- counter's upsert cost every create about a tenth of its throughput, also
-- for tenants that have no contacts quota and never read the count. From
-- here on only the tenants listed in contact_counted_tenants are counted:
-- the service lists a tenant when it applies a record with a contacts quota
-- and unlists it (dropping its count) when it applies one without (Tenants
-- .Apply, adapters/postgres/tenants.go). The triggers of the others write
-- nothing.
--
-- Listing a tenant recounts its contacts while its writes go on. The
-- "contacts count" advisory lock of the tenant (contacts_count_lock) keeps
-- that recount exact: every write that inserts, deletes or erases contacts
-- takes it shared in its trigger, before it reads the list, and keeps it
-- until its commit; the applier takes it exclusively before it changes the
-- list, and keeps it until its own commit. So a write either
--   * read the list before the tenant was on it (and did not count its
--     contacts): it still held the shared lock when the applier asked for
--     the exclusive one, which was granted only after that write had
--     committed; the recount, a later statement with a later snapshot,
--     sees its contacts; or
--   * asked for the shared lock after the applier took the exclusive one:
--     it waited for the applier's commit and then, reading the list in a
--     new statement (a new snapshot), found the tenant and counted its own
--     contacts, which the recount (taken before that write committed) did
--     not see.
-- Either way each contact is counted once. (This needs each statement to
-- take its own snapshot, as READ COMMITTED, the isolation of every write
-- of the service, does; a trigger's statements included.) Unlisting is the
-- same in reverse: no write is between its check of the list and its upsert
-- while the applier deletes the tenant's rows. Writes of different tenants,
-- and writes of one tenant among themselves, never wait for each other on
-- this lock (shared locks do not conflict); a tenant's writes wait only
-- while a record of the tenant is being applied (rare, and as long as the
-- applier's transaction).
create table contact_counted_tenants (
    tenant_id uuid primary key
);

-- Every tenant counted so far stays counted until a record of it without
-- a quota is applied: the tenants this service applied, and any tenant
-- that has a count. contact_counts lets the owner see every tenant's rows
-- only while its row-level security is not forced; this transaction lifts
-- it for the one statement below (ALTER TABLE locks the table against
-- every other session until the commit, so no one else ever sees it
-- lifted) and forces it again. The new table is filled before its own
-- row-level security is enabled.
alter table contact_counts no force row level security;
-- +goose StatementBegin
do $$
begin
    perform set_config('app.system', 'on', true);
    insert into contact_counted_tenants (tenant_id)
        select tenant_id from tenants
        union
        select tenant_id from contact_counts;
    perform set_config('app.system', '', true);
end
$$;
-- +goose StatementEnd
alter table contact_counts force row level security;

alter table contact_counted_tenants enable row level security;
alter table contact_counted_tenants force row level security;
create policy contact_counted_tenants_tenant on contact_counted_tenants
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose StatementBegin
-- contacts_count_lock is the key of a tenant's "contacts count" advisory
-- lock (see above); not the quota lock of contacts_check_quota, which
-- orders the quota checks near the boundary.
create function contacts_count_lock(p_tenant uuid) returns bigint language sql immutable as $$
    select hashtextextended(p_tenant::text || ' contacts count', 0)
$$;
-- +goose StatementEnd

-- The triggers of 00017, for listed tenants only. Each hands the change of
-- every tenant it wrote contacts of, in the order of their ids, to
-- contacts_count_add, which takes that tenant's lock in shared mode, then
-- reads the list in a statement of its own (so with a snapshot taken after
-- the lock is held) and counts the change of a listed tenant only. The
-- service writes in a tenant's scope, so a statement's contacts are all of
-- one tenant; where row-level security does not apply (a role that
-- bypasses it) a statement may hold several, locked in id order so that
-- two statements never wait for each other's locks in opposite orders. A
-- tenant that is not listed costs a lock in shared mode (held in memory,
-- granted at once unless a change of its quota is being applied) and one
-- index probe, and writes nothing.
-- +goose StatementBegin
create function contacts_count_add(p_tenant uuid, p_delta bigint) returns void language plpgsql as $$
begin
    perform pg_advisory_xact_lock_shared(contacts_count_lock(p_tenant));
    if p_delta <> 0 and exists (select 1 from contact_counted_tenants where tenant_id = p_tenant) then
        insert into contact_counts as c (tenant_id, shard, live)
        values (p_tenant, contacts_count_shard(), p_delta)
        on conflict (tenant_id, shard) do update set live = c.live + excluded.live;
    end if;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create or replace function contacts_count_inserted() returns trigger language plpgsql as $$
declare
    t uuid;
    n bigint;
begin
    for t, n in select tenant_id, count(*) filter (where erased_at is null) from new_contacts
                group by tenant_id order by tenant_id loop
        perform contacts_count_add(t, n);
    end loop;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create or replace function contacts_count_deleted() returns trigger language plpgsql as $$
declare
    t uuid;
    n bigint;
begin
    for t, n in select tenant_id, count(*) filter (where erased_at is null) from old_contacts
                group by tenant_id order by tenant_id loop
        perform contacts_count_add(t, -n);
    end loop;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create or replace function contacts_count_erased() returns trigger language plpgsql as $$
begin
    perform contacts_count_add(new.tenant_id, case when new.erased_at is null then 1 else -1 end);
    return null;
end
$$;
-- +goose StatementEnd

-- +goose Down
-- Back to counting every tenant: the functions of 00017, and a recount of
-- every tenant this service applied (the unlisted ones have no count).
-- +goose StatementBegin
create or replace function contacts_count_inserted() returns trigger language plpgsql as $$
begin
    insert into contact_counts as c (tenant_id, shard, live)
    select tenant_id, contacts_count_shard(), count(*) from new_contacts
    where erased_at is null
    group by tenant_id order by tenant_id
    on conflict (tenant_id, shard) do update set live = c.live + excluded.live;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create or replace function contacts_count_deleted() returns trigger language plpgsql as $$
begin
    insert into contact_counts as c (tenant_id, shard, live)
    select tenant_id, contacts_count_shard(), -count(*) from old_contacts
    where erased_at is null
    group by tenant_id order by tenant_id
    on conflict (tenant_id, shard) do update set live = c.live + excluded.live;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create or replace function contacts_count_erased() returns trigger language plpgsql as $$
begin
    insert into contact_counts as c (tenant_id, shard, live)
    values (new.tenant_id, contacts_count_shard(), case when new.erased_at is null then 1 else -1 end)
    on conflict (tenant_id, shard) do update set live = c.live + excluded.live;
    return null;
end
$$;
-- +goose StatementEnd

-- Writes are locked out until the commit (the table lock), so the recount
-- misses nothing.
lock table contacts in share mode;
-- +goose StatementBegin
do $$
declare
    t uuid;
begin
    perform set_config('app.system', 'on', true);
    for t in select tenant_id from tenants loop
        perform set_config('app.tenant_id', t::text, true);
        delete from contact_counts where tenant_id = t;
        insert into contact_counts (tenant_id, shard, live)
            select t, 0, count(*) from contacts where tenant_id = t and erased_at is null
            having count(*) > 0;
    end loop;
    perform set_config('app.tenant_id', '', true);
    perform set_config('app.system', '', true);
end
$$;
-- +goose StatementEnd

drop function contacts_count_add(uuid, bigint);
drop function contacts_count_lock(uuid);
drop table contact_counted_tenants;
