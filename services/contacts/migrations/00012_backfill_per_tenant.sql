-- +goose Up
-- The backfills of migrations 00002 and 00003 ran as the tables' owner
-- with no tenant set, and row-level security (forced on the owner too)
-- let them see no row: contacts stored before those migrations kept mixed-
-- case e-mails and tags, no channel keys (so no duplicate check and no
-- search by e-mail or phone) and no search text until their next write.
-- This runs the same backfills again, one tenant at a time, each in its
-- tenant's scope; rows written since are left alone. The migrations
-- themselves stay as they landed.
-- +goose StatementBegin
do $$
declare
    t uuid;
begin
    perform set_config('app.system', 'on', true);
    for t in select tenant_id from tenants loop
        perform set_config('app.tenant_id', t::text, true);
        update contacts set emails = array(select lower(e) from unnest(emails) e)
            where tenant_id = t and emails::text <> lower(emails::text);
        update contacts set tags = array(select distinct lower(x) from unnest(tags) x)
            where tenant_id = t and tags <> '{}' and tags::text <> lower(tags::text);
        update companies set tags = array(select distinct lower(x) from unnest(tags) x)
            where tenant_id = t and tags <> '{}' and tags::text <> lower(tags::text);
        insert into contact_keys (tenant_id, key, contact_id)
            select c.tenant_id, k.key, c.id
            from contacts c,
                 lateral (select 'email:' || e from unnest(c.emails) e
                          union
                          select 'phone:' || regexp_replace(p, '[^0-9+]', '', 'g') from unnest(c.phones) p) k(key)
            where c.tenant_id = t and c.erased_at is null
              and not exists (select 1 from contact_keys x where x.contact_id = c.id)
            on conflict do nothing;
        update contacts set search = translate(lower(concat_ws(' ', first_name, last_name, position, array_to_string(emails, ' '))), 'ёй', 'еи')
            where tenant_id = t and search = '';
        update contacts set sort_name = translate(lower(concat_ws(' ', last_name, first_name)), 'ёй', 'еи')
            where tenant_id = t and sort_name = '';
        update companies set search = translate(lower(concat_ws(' ', name, legal_name, tax_id)), 'ёй', 'еи')
            where tenant_id = t and search = '';
    end loop;
    perform set_config('app.tenant_id', '', true);
    perform set_config('app.system', '', true);
end
$$;
-- +goose StatementEnd

-- +goose Down
-- Nothing to undo: the values are what the service writes anyway.
select 1;
