-- +goose Up
-- Every table: tenant_id first in the primary key and every index, and a
-- row-level security policy on app.tenant_id (DESIGN.md §5).

create table pipelines (
    tenant_id  uuid not null,
    id         uuid not null,
    name       text not null,
    version    bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);

-- A stage belongs to one pipeline; its kind says whether a deal in it is
-- open, won or lost.
create table stages (
    tenant_id       uuid not null,
    id              uuid not null,
    pipeline_id     uuid not null,
    name            text not null,
    color           text not null,
    probability     int not null check (probability between 0 and 100),
    kind            text not null check (kind in ('open', 'won', 'lost')),
    position        int not null,
    required_fields text[] not null default '{}',
    primary key (tenant_id, id)
);
create index stages_pipeline on stages (tenant_id, pipeline_id, position);

create table loss_reasons (
    tenant_id  uuid not null,
    id         uuid not null,
    name       text not null,
    position   int not null,
    archived   boolean not null default false,
    version    bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id)
);

-- How many units of the tenant's base currency one unit of currency costs.
create table currency_rates (
    tenant_id  uuid not null,
    currency   text not null,
    rate       numeric not null check (rate > 0),
    updated_at timestamptz not null,
    updated_by text not null,
    primary key (tenant_id, currency)
);

create table deals (
    tenant_id           uuid not null,
    id                  uuid not null,
    title               text not null,
    pipeline_id         uuid not null,
    stage_id            uuid not null,
    status              text not null check (status in ('open', 'won', 'lost')),
    amount              bigint check (amount >= 0),
    currency            text not null,
    contact_id          uuid,
    company_id          uuid,
    owner_id            text not null,
    team                text not null default '',
    expected_close_date date,
    source              text not null default '',
    tags                text[] not null default '{}',
    loss_reason_id      uuid,
    loss_comment        text not null default '',
    stage_entered_at    timestamptz not null,
    closed_at           timestamptz,
    version             bigint not null,
    created_at          timestamptz not null,
    updated_at          timestamptz not null,
    primary key (tenant_id, id)
);
-- A board column: a stage's newest arrivals first.
create index deals_stage on deals (tenant_id, stage_id, stage_entered_at desc, id desc);
create index deals_pipeline on deals (tenant_id, pipeline_id, id);
create index deals_owner on deals (tenant_id, owner_id, id);
create index deals_team on deals (tenant_id, team, id);
create index deals_contact on deals (tenant_id, contact_id) where contact_id is not null;
create index deals_company on deals (tenant_id, company_id) where company_id is not null;
create index deals_close on deals (tenant_id, expected_close_date, id) where expected_close_date is not null;
create index deals_tags on deals using gin (tags) where tags <> '{}';

-- Every stage a deal entered, with who moved it and when: the stage
-- history, and the time spent in each stage.
create table deal_moves (
    tenant_id     uuid not null,
    deal_id       uuid not null,
    id            uuid not null,
    from_stage_id uuid,
    to_stage_id   uuid not null,
    actor_id      text not null,
    moved_at      timestamptz not null,
    primary key (tenant_id, deal_id, id)
);

-- The board's sums, kept by the triggers below for every writer (the API,
-- a stage deleted with its deals moved). A stage's sums are spread over 8
-- slots by deal id, so concurrent moves into one stage rarely wait on one
-- row; the board adds the slots up.
create table stage_totals (
    tenant_id uuid not null,
    stage_id  uuid not null,
    currency  text not null,
    slot      smallint not null,
    deals     bigint not null,
    amount    bigint not null,
    primary key (tenant_id, stage_id, currency, slot)
);

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
create trigger deals_totals_insert after insert on deals for each row execute function deals_totals();
create trigger deals_totals_delete after delete on deals for each row execute function deals_totals();
create trigger deals_totals_update after update of stage_id, amount, currency on deals for each row
    when (old.stage_id is distinct from new.stage_id or old.amount is distinct from new.amount or old.currency is distinct from new.currency)
    execute function deals_totals();

-- +goose StatementBegin
do $$
declare t text;
begin
    foreach t in array array['pipelines', 'stages', 'loss_reasons', 'currency_rates', 'deals', 'deal_moves', 'stage_totals'] loop
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
drop table stage_totals, deal_moves, deals, currency_rates, loss_reasons, stages, pipelines;
drop function deals_totals();
drop function stage_totals_add(uuid, uuid, uuid, text, bigint, bigint);
