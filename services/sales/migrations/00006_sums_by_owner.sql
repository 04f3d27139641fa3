-- +goose Up
-- The board's sums move from stage_totals (per stage, currency and slot,
-- kept by row triggers) to stage_sums (per stage, owner, team and
-- currency, kept by statement triggers), for two reasons:
-- - A rep's or manager's board adds up only the deals they may see. Over
--   1M deals that meant reading 20,000 deals per rep and 200,000 per
--   manager on every board; now it reads their rows of stage_sums.
-- - A row trigger upserted a sums row once per deal written. A statement
--   that writes many deals (a bulk load, a stage deleted with its deals
--   moved) updated the same few rows thousands of times in one
--   transaction, each update walking the row's growing chain of versions:
--   100,000 deals took minutes. A statement trigger adds the statement's
--   changes up first and writes each touched row once, lower key first (so
--   concurrent statements lock rows in one order).
-- Concurrent moves now share a row only when they move one owner's deals
-- between the same stages, so the slots go.
drop trigger deals_totals_insert on deals;
drop trigger deals_totals_delete on deals;
drop trigger deals_totals_update on deals;
drop function deals_totals();
drop function stage_totals_add(uuid, uuid, uuid, text, bigint, bigint);
drop table stage_totals;

create table stage_sums (
    tenant_id uuid not null,
    stage_id  uuid not null,
    owner_id  text not null,
    team      text not null,
    currency  text not null,
    deals     bigint not null,
    amount    bigint not null,
    primary key (tenant_id, stage_id, owner_id, team, currency)
);
create index stage_sums_owner on stage_sums (tenant_id, owner_id, stage_id);
create index stage_sums_team on stage_sums (tenant_id, team, stage_id);
alter table stage_sums enable row level security;
alter table stage_sums force row level security;
create policy stage_sums_tenant on stage_sums
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose StatementBegin
create function deals_sums_inserted() returns trigger language plpgsql as $$
begin
    insert into stage_sums as s (tenant_id, stage_id, owner_id, team, currency, deals, amount)
    select tenant_id, stage_id, owner_id, team, currency, count(*), coalesce(sum(amount), 0)
    from new_deals
    group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (tenant_id, stage_id, owner_id, team, currency)
    do update set deals = s.deals + excluded.deals, amount = s.amount + excluded.amount;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create function deals_sums_deleted() returns trigger language plpgsql as $$
begin
    insert into stage_sums as s (tenant_id, stage_id, owner_id, team, currency, deals, amount)
    select tenant_id, stage_id, owner_id, team, currency, -count(*), -coalesce(sum(amount), 0)
    from old_deals
    group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (tenant_id, stage_id, owner_id, team, currency)
    do update set deals = s.deals + excluded.deals, amount = s.amount + excluded.amount;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose StatementBegin
create function deals_sums_updated() returns trigger language plpgsql as $$
begin
    insert into stage_sums as s (tenant_id, stage_id, owner_id, team, currency, deals, amount)
    select tenant_id, stage_id, owner_id, team, currency, sum(n), sum(amt)
    from (
        select o.tenant_id, o.stage_id, o.owner_id, o.team, o.currency, -1 as n, -coalesce(o.amount, 0) as amt
        from old_deals o join new_deals d on d.tenant_id = o.tenant_id and d.id = o.id
        where (o.stage_id, o.owner_id, o.team, o.currency, o.amount) is distinct from (d.stage_id, d.owner_id, d.team, d.currency, d.amount)
        union all
        select d.tenant_id, d.stage_id, d.owner_id, d.team, d.currency, 1, coalesce(d.amount, 0)
        from old_deals o join new_deals d on d.tenant_id = o.tenant_id and d.id = o.id
        where (o.stage_id, o.owner_id, o.team, o.currency, o.amount) is distinct from (d.stage_id, d.owner_id, d.team, d.currency, d.amount)
    ) delta
    group by 1, 2, 3, 4, 5
    having sum(n) <> 0 or sum(amt) <> 0
    order by 1, 2, 3, 4, 5
    on conflict (tenant_id, stage_id, owner_id, team, currency)
    do update set deals = s.deals + excluded.deals, amount = s.amount + excluded.amount;
    return null;
end
$$;
-- +goose StatementEnd

create trigger deals_sums_inserted after insert on deals referencing new table as new_deals
    for each statement execute function deals_sums_inserted();
create trigger deals_sums_deleted after delete on deals referencing old table as old_deals
    for each statement execute function deals_sums_deleted();
create trigger deals_sums_updated after update on deals referencing old table as old_deals new table as new_deals
    for each statement execute function deals_sums_updated();

-- The sums of deals stored so far, one tenant at a time in its scope
-- (row-level security is forced on the owner too).
-- +goose StatementBegin
do $$
declare
    t uuid;
begin
    perform set_config('app.system', 'on', true);
    for t in select tenant_id from tenants loop
        perform set_config('app.tenant_id', t::text, true);
        insert into stage_sums (tenant_id, stage_id, owner_id, team, currency, deals, amount)
            select tenant_id, stage_id, owner_id, team, currency, count(*), coalesce(sum(amount), 0)
            from deals where tenant_id = t group by 1, 2, 3, 4, 5;
    end loop;
    perform set_config('app.tenant_id', '', true);
    perform set_config('app.system', '', true);
end
$$;
-- +goose StatementEnd

-- +goose Down
drop trigger deals_sums_updated on deals;
drop trigger deals_sums_deleted on deals;
drop trigger deals_sums_inserted on deals;
drop function deals_sums_updated();
drop function deals_sums_deleted();
drop function deals_sums_inserted();
drop table stage_sums;
create table stage_totals (
    tenant_id uuid not null,
    stage_id  uuid not null,
    currency  text not null,
    slot      smallint not null,
    deals     bigint not null,
    amount    bigint not null,
    primary key (tenant_id, stage_id, currency, slot)
);
alter table stage_totals enable row level security;
alter table stage_totals force row level security;
create policy stage_totals_tenant on stage_totals
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
-- +goose StatementBegin
create function stage_totals_add(t uuid, deal uuid, stage uuid, cur text, n bigint, amt bigint) returns void
language sql as $$
    insert into stage_totals as s (tenant_id, stage_id, currency, slot, deals, amount)
    values (t, stage, cur, get_byte(uuid_send(deal), 15) % 8, n, amt)
    on conflict (tenant_id, stage_id, currency, slot)
    do update set deals = s.deals + excluded.deals, amount = s.amount + excluded.amount
$$;
-- +goose StatementEnd
-- +goose StatementBegin
create function deals_totals() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        perform stage_totals_add(new.tenant_id, new.id, new.stage_id, new.currency, 1, coalesce(new.amount, 0));
    elsif tg_op = 'DELETE' then
        perform stage_totals_add(old.tenant_id, old.id, old.stage_id, old.currency, -1, -coalesce(old.amount, 0));
    elsif (old.stage_id, old.currency) = (new.stage_id, new.currency) then
        perform stage_totals_add(new.tenant_id, new.id, new.stage_id, new.currency, 0, coalesce(new.amount, 0) - coalesce(old.amount, 0));
    elsif (old.stage_id, old.currency) < (new.stage_id, new.currency) then
        perform stage_totals_add(old.tenant_id, old.id, old.stage_id, old.currency, -1, -coalesce(old.amount, 0));
        perform stage_totals_add(new.tenant_id, new.id, new.stage_id, new.currency, 1, coalesce(new.amount, 0));
    else
        perform stage_totals_add(new.tenant_id, new.id, new.stage_id, new.currency, 1, coalesce(new.amount, 0));
        perform stage_totals_add(old.tenant_id, old.id, old.stage_id, old.currency, -1, -coalesce(old.amount, 0));
    end if;
    return null;
end
$$;
-- +goose StatementEnd
create trigger deals_totals_insert after insert on deals for each row execute function deals_totals();
create trigger deals_totals_delete after delete on deals for each row execute function deals_totals();
create trigger deals_totals_update after update of stage_id, amount, currency on deals for each row
    when (old.stage_id is distinct from new.stage_id or old.amount is distinct from new.amount or old.currency is distinct from new.currency)
    execute function deals_totals();
-- (stage_totals starts empty on the way down: the board counts from the next write.)
