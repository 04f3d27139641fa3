-- +goose Up
-- Erasing a contact deleted the stored Idempotency-Key answers that show it
-- (contacts.go, Erase), but not those showing the contacts merged into it,
-- whose records the erasure forgets with their merges: a replay could still
-- hand their personal data out. The erasure branch of the trigger now
-- deletes those answers too, in the same statement.
-- +goose StatementBegin
create or replace function contacts_forget_merges() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        with recursive doomed as (
            select m.tenant_id, m.source_id from merges m join gone g on m.tenant_id = g.tenant_id and m.target_id = g.id
            where not exists (select 1 from merges x where x.tenant_id = g.tenant_id and x.source_id = g.id)
            union
            select m.tenant_id, m.source_id from merges m join doomed d on m.tenant_id = d.tenant_id and m.target_id = d.source_id
        )
        delete from merges m using doomed d where m.tenant_id = d.tenant_id and m.source_id = d.source_id;
    else
        with recursive doomed as (
            select m.tenant_id, m.source_id from merges m where m.tenant_id = new.tenant_id and m.target_id = new.id
            union
            select m.tenant_id, m.source_id from merges m join doomed d on m.tenant_id = d.tenant_id and m.target_id = d.source_id
        ), forgotten as (
            delete from merges m using doomed d where m.tenant_id = d.tenant_id and m.source_id = d.source_id
            returning m.source_id
        )
        delete from idempotency_keys i using forgotten f
            where i.tenant_id = new.tenant_id and position(convert_to(f.source_id::text, 'UTF8') in i.body) > 0;
    end if;
    return null;
end
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
create or replace function contacts_forget_merges() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        with recursive doomed as (
            select m.tenant_id, m.source_id from merges m join gone g on m.tenant_id = g.tenant_id and m.target_id = g.id
            where not exists (select 1 from merges x where x.tenant_id = g.tenant_id and x.source_id = g.id)
            union
            select m.tenant_id, m.source_id from merges m join doomed d on m.tenant_id = d.tenant_id and m.target_id = d.source_id
        )
        delete from merges m using doomed d where m.tenant_id = d.tenant_id and m.source_id = d.source_id;
    else
        with recursive doomed as (
            select m.tenant_id, m.source_id from merges m where m.tenant_id = new.tenant_id and m.target_id = new.id
            union
            select m.tenant_id, m.source_id from merges m join doomed d on m.tenant_id = d.tenant_id and m.target_id = d.source_id
        )
        delete from merges m using doomed d where m.tenant_id = d.tenant_id and m.source_id = d.source_id;
    end if;
    return null;
end
$$;
-- +goose StatementEnd
