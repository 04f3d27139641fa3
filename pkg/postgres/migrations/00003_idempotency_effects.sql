-- +goose Up
-- An Idempotency-Key claim used to block its key for five minutes after its
-- process died, and then let the retry run the request again, even when the
-- first run had committed its effect. From here on a claim is a lease
-- (lease_until) that its live request keeps renewing, so an abandoned claim
-- is taken over within seconds; and the transaction that carries the
-- request out marks its claim (effect_at, records) before it commits, so a
-- key whose request took effect is never taken over.

-- claim tells one holder of a key from the next; rows claimed before this
-- migration have none. A claim the previous code makes while both run
-- (it names no lease) keeps that code's five minutes.
alter table idempotency_keys
    add column claim       uuid,
    add column lease_until timestamptz not null default now() + interval '5 minutes',
    add column effect_at   timestamptz,
    add column records     jsonb;

-- A write marks the claim of its request by inserting one row here in its
-- own transaction: an insert (unlike an update, which may match nothing)
-- always reaches the trigger, and can be one of the WITH queries of a
-- chained statement (postgres.Chain). The trigger records the mark on the
-- claim's row and keeps nothing here; when the claim is no longer the
-- writer's (another request took the key over), it fails the write with
-- SQLSTATE RP412 instead, so that the request is never carried out twice.
create table idempotency_effects (
    tenant_id    uuid not null,
    key          text not null,
    claim        uuid not null,
    records      jsonb not null,
    primary key (tenant_id, key, claim)
);
alter table idempotency_effects enable row level security;
alter table idempotency_effects force row level security;
create policy idempotency_effects_scope on idempotency_effects
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose StatementBegin
-- The update locks the claim's row until the write commits: a takeover
-- waits for it and then sees effect_at, and one that came first has changed
-- claim, so that the update finds nothing.
create function idempotency_mark_effect() returns trigger language plpgsql as $$
begin
    update idempotency_keys k
       set effect_at = coalesce(k.effect_at, now()),
           records = coalesce(k.records, '[]'::jsonb) || new.records
     where k.tenant_id = new.tenant_id and k.key = new.key and k.claim = new.claim;
    if not found then
        raise exception using errcode = 'RP412',
            message = 'the Idempotency-Key of this request was taken over by another request';
    end if;
    return null;
end $$;
-- +goose StatementEnd

create trigger idempotency_effects_mark before insert on idempotency_effects
    for each row execute function idempotency_mark_effect();

-- +goose Down
drop table idempotency_effects;
drop function idempotency_mark_effect();
alter table idempotency_keys
    drop column records,
    drop column effect_at,
    drop column lease_until,
    drop column claim;
