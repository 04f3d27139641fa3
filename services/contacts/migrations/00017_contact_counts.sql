-- +goose Up
-- contact_counts holds how many live contacts each tenant has, for its
-- contacts quota (TenantRecord quotas.contacts): a write that creates
-- contacts adds up a tenant's few rows here instead of counting its
-- contacts. A contact is live while its row is in contacts and not erased
-- (contacts_assert_live): a deleted contact, or one merged into another
-- (merges keeps it, contacts does not), no longer counts, nor does an
-- erased one; an unmerge that puts a contact back counts it again.
--
-- The count of a tenant is the sum of its rows, one per shard. Each
-- transaction adds its changes to one shard, picked by its transaction id:
-- concurrent creates of one tenant (consecutive ids) update different rows,
-- so they do not wait for each other's commit on one hot row; and a
-- transaction never holds two of them, so two transactions cannot deadlock
-- on them, whatever order their statements run in.
create table contact_counts (
    tenant_id uuid not null,
    shard     smallint not null,
    live      bigint not null,
    primary key (tenant_id, shard)
);
alter table contact_counts enable row level security;
alter table contact_counts force row level security;
create policy contact_counts_tenant on contact_counts
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose StatementBegin
-- contacts_count_shard is the shard of contact_counts the current
-- transaction writes (see above); 16 of them.
create function contacts_count_shard() returns smallint language sql volatile as $$
    select (pg_current_xact_id()::text::bigint % 16)::smallint
$$;
-- +goose StatementEnd

-- Statement triggers: a statement that writes many contacts (an import's
-- batch, a tenant's purge) adds them up first and updates one row.
-- +goose StatementBegin
create function contacts_count_inserted() returns trigger language plpgsql as $$
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
create function contacts_count_deleted() returns trigger language plpgsql as $$
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

-- An erasure is an update of one contact, and rare: a row trigger, since a
-- statement trigger with transition tables cannot be limited to a column
-- and would copy the rows of every update of a contact.
-- +goose StatementBegin
create function contacts_count_erased() returns trigger language plpgsql as $$
begin
    insert into contact_counts as c (tenant_id, shard, live)
    values (new.tenant_id, contacts_count_shard(), case when new.erased_at is null then 1 else -1 end)
    on conflict (tenant_id, shard) do update set live = c.live + excluded.live;
    return null;
end
$$;
-- +goose StatementEnd

create trigger contacts_count_inserted after insert on contacts referencing new table as new_contacts
    for each statement execute function contacts_count_inserted();
create trigger contacts_count_deleted after delete on contacts referencing old table as old_contacts
    for each statement execute function contacts_count_deleted();
create trigger contacts_count_erased after update of erased_at on contacts for each row
    when ((old.erased_at is null) <> (new.erased_at is null)) execute function contacts_count_erased();

-- +goose StatementBegin
-- contacts_check_quota refuses (SQLSTATE RP403, detail {"quota", "count",
-- "added"}) a transaction that has just written p_added new live contacts
-- of tenant p_tenant when the tenant would then hold more than p_quota;
-- otherwise it returns the count. The service runs it as the last
-- statement before the commit, and only for tenants with a quota.
--
-- Each query of this (volatile) function sees every transaction committed
-- before it starts, and its own writes, but not concurrent writes that are
-- not committed yet: two creates at the boundary could both pass. So a
-- write that leaves fewer than 1024 contacts of room (or any write with
-- p_serial, an import's batch) takes the tenant's quota lock before it
-- counts again, and keeps it until its commit: writes near the boundary are
-- counted one after another, each seeing the one before, and cannot
-- overshoot each other. Writes far from it take no lock and never wait.
-- The quota can be exceeded only if more than 1024 contacts are committed
-- while a write that passed far from the boundary sits between this check
-- and its commit (normally the time of one commit), and then by at most
-- what the writes that passed far from it, in flight then, add.
create function contacts_check_quota(p_tenant uuid, p_quota bigint, p_added bigint, p_serial boolean)
returns bigint language plpgsql volatile as $$
declare
    n bigint;
begin
    select coalesce(sum(live), 0) into n from contact_counts where tenant_id = p_tenant;
    if n <= p_quota and (p_serial or n > p_quota - 1024) then
        perform pg_advisory_xact_lock(hashtextextended(p_tenant::text || ' contacts quota', 0));
        select coalesce(sum(live), 0) into n from contact_counts where tenant_id = p_tenant;
    end if;
    if n > p_quota then
        raise exception using errcode = 'RP403', message = 'contacts quota exceeded',
            detail = json_build_object('quota', p_quota, 'count', n - p_added, 'added', p_added)::text;
    end if;
    return n;
end
$$;
-- +goose StatementEnd

-- The live contacts stored so far, one tenant at a time in its scope
-- (row-level security is forced on the owner too). The triggers above are
-- in place first, and creating them locked contacts against writes until
-- this migration commits: nothing written meanwhile is missed or counted
-- twice.
-- +goose StatementBegin
do $$
declare
    t uuid;
begin
    perform set_config('app.system', 'on', true);
    for t in select tenant_id from tenants loop
        perform set_config('app.tenant_id', t::text, true);
        insert into contact_counts (tenant_id, shard, live)
            select t, 0, count(*) from contacts where tenant_id = t and erased_at is null
            having count(*) > 0;
    end loop;
    perform set_config('app.tenant_id', '', true);
    perform set_config('app.system', '', true);
end
$$;
-- +goose StatementEnd

-- +goose Down
drop function contacts_check_quota(uuid, bigint, bigint, boolean);
drop trigger contacts_count_erased on contacts;
drop trigger contacts_count_deleted on contacts;
drop trigger contacts_count_inserted on contacts;
drop function contacts_count_erased();
drop function contacts_count_deleted();
drop function contacts_count_inserted();
drop function contacts_count_shard();
drop table contact_counts;
