-- +goose Up
-- A move takes a deal's sums out of one stage and into another. Two deals
-- of one slot moving in opposite directions at once (A→B and B→A) locked
-- the two stage_totals rows in opposite orders and deadlocked: both rows
-- are now locked lower key first. A change that stays in its stage and
-- currency (an amount) is one row.
-- +goose StatementBegin
create or replace function deals_totals() returns trigger language plpgsql as $$
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

-- +goose Down
-- +goose StatementBegin
create or replace function deals_totals() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform stage_totals_add(old.tenant_id, old.id, old.stage_id, old.currency, -1, -coalesce(old.amount, 0));
    end if;
    if tg_op in ('UPDATE', 'INSERT') then
        perform stage_totals_add(new.tenant_id, new.id, new.stage_id, new.currency, 1, coalesce(new.amount, 0));
    end if;
    return null;
end
$$;
-- +goose StatementEnd
