-- +goose Up
-- tenant_rls puts a table under the rule every service's tables follow: row
-- level security, forced on the owner too, with one policy that admits the
-- rows of the tenant the transaction is scoped to (app.tenant_id, which
-- postgres.InTenant sets). A migration calls it once per new table instead
-- of restating the policy. Only the migrating role runs it.
-- +goose StatementBegin
create function tenant_rls(t regclass) returns void language plpgsql as $$
declare
    name text := (select relname from pg_class where oid = t);
begin
    execute format('alter table %s enable row level security', t);
    execute format('alter table %s force row level security', t);
    execute format($p$create policy %I on %s
        using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, name || '_tenant', t);
end $$;
-- +goose StatementEnd
revoke execute on function tenant_rls(regclass) from public;

-- +goose Down
drop function tenant_rls(regclass);
